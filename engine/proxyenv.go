package engine

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"sync"
)

// A PRECONFIG job takes its proxies from the environment of its user, as
// it was when they last made or resumed the job or set its proxy, rather
// than from the worker's, which keeps the environment of whichever command
// started it: a user who changes https_proxy and resumes sees the change
// at the next attempt.

// proxyVariables are the variables the HTTP transport reads for PRECONFIG.
var proxyVariables = []string{"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
	"all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"}

// recordProxyEnv keeps in j the proxy variables of this process, the
// front end's.
func recordProxyEnv(j *Job) { j.proxyEnv = processProxyEnv() }

// processProxyEnv is this process's proxy variables as stored, read once:
// an import makes thousands of jobs.
var processProxyEnv = sync.OnceValue(func() string {
	vars := []string{} // recorded, even when none is set
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if slices.Contains(proxyVariables, name) {
			vars = append(vars, kv)
		}
	}
	slices.Sort(vars)
	b, _ := json.Marshal(vars)
	return string(b)
})

// proxyEnvOf is j's recorded proxy variables, "NAME=value" each; nil when
// none were recorded (a job made before they were), which means the
// worker's own environment.
func proxyEnvOf(j *Job) []string {
	if j.proxyEnv == "" {
		return nil
	}
	vars := []string{}
	if json.Unmarshal([]byte(j.proxyEnv), &vars) != nil {
		return nil
	}
	return vars
}
