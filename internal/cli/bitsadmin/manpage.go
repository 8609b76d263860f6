package bitsadmin

import (
	"bits/internal/manpage"
)

// manPage is bitsadmin's manual page: the verbs of the table, each with its
// arguments and help, and what the usage says after them.
func manPage() string {
	var commands []manpage.Item
	for _, v := range verbs {
		term := v.name
		if v.syntax != "" {
			term += " " + v.syntax
		}
		commands = append(commands, manpage.Item{Term: term, Text: v.help})
	}
	return manpage.Page{
		Name:     "bitsadmin",
		Summary:  "create and manage background transfers, with the verbs and output of Windows' bitsadmin",
		Synopsis: []string{"bitsadmin [/RAWRETURN] [/WRAP | /NOWRAP] command [arguments]", "bitsadmin --version", "bitsadmin /? | -h | --help"},
		Sections: []manpage.Section{
			{Title: "Description", Paragraphs: []string{
				"bitsadmin queues downloads and uploads (HTTP, HTTPS, SMB shares, local files) as jobs that the user's worker moves in the background: it retries after network failures, resumes from its last checkpoint after a crash or a reboot, uses only the bandwidth other traffic leaves idle, and makes each file appear under its name only when the job is completed.",
				"Commands and their output follow Windows' bitsadmin, so that scripts written for it keep working; docs/bitsadmin.md in the source says where they differ. Every command but those given /RAWRETURN first prints a five-line banner, as on Windows.",
			}},
			{Title: "Commands", Items: commands},
			{Title: "Arguments", Paragraphs: []string{
				"<job> is a job's display name or its identifier in braces, {GUID}. Commands and switches may be written in any case.",
				"/RAWRETURN prints only the value, without the banner or a final newline (for /CREATE and the /GET commands). On a terminal, /WRAP breaks lines at its width and /NOWRAP cuts them (the default of /MONITOR); output to a pipe or a file is never changed.",
			}},
			{Title: "Exit status", Paragraphs: []string{
				"0 on success; 1 for a usage error, a job that cannot be found or an interrupted /TRANSFER; otherwise the low byte of the failure's HRESULT, as Windows' bitsadmin does.",
			}},
			{Title: "Environment", Items: []manpage.Item{
				{Term: "BITS_HOME", Text: "the state folder that holds the jobs (default $XDG_STATE_HOME/bits, else ~/.local/state/bits)."},
				{Term: "BITS_POLICY", Text: "the policy file (default /etc/bits/policy.conf)."},
				{Term: "BITS_WORKER_IDLE", Text: "how long a worker that a command starts stays with nothing to do (default 60s; 0: always)."},
			}},
			{Title: "See also", Paragraphs: []string{"bitsjob(1), bitsserver(1)"}},
		},
	}.Render()
}
