package engine

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"sync"

	"bits/engine/transport"
)

// A job reaches the network with the environment of its user, as it was
// when they last made or resumed the job or set its proxy or credentials,
// rather than with the worker's, which keeps the environment of whichever
// command started it: a user who changes https_proxy, or runs kinit with
// another KRB5CCNAME, and resumes sees the change at the next attempt.
// Which variables: transport.UserVariables.

// recordUserEnv keeps in j the user variables of this process, the front
// end's.
func recordUserEnv(j *Job) { j.userEnv = processUserEnv() }

// processUserEnv is this process's user variables as stored, read once:
// an import makes thousands of jobs.
var processUserEnv = sync.OnceValue(func() string {
	vars := []string{} // recorded, even when none is set
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if slices.Contains(transport.UserVariables, name) {
			vars = append(vars, kv)
		}
	}
	slices.Sort(vars)
	b, _ := json.Marshal(vars)
	return string(b)
})

// userEnvOf is j's recorded user variables, "NAME=value" each; nil when
// none were recorded (a job made before they were), which means the
// worker's own environment.
func userEnvOf(j *Job) []string {
	if j.userEnv == "" {
		return nil
	}
	vars := []string{}
	if json.Unmarshal([]byte(j.userEnv), &vars) != nil {
		return nil
	}
	return vars
}
