package bitsserver

import (
	"flag"

	"bits/internal/manpage"
)

// manPage is bitsserver's manual page: its flags, from the flag set that
// parses them, and what its usage says.
func manPage() string {
	var o options
	fl := newFlagSet(&o)
	var flags []manpage.Item
	fl.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		term := "-" + f.Name
		if arg != "" {
			term += " " + arg
		}
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			usage += " (default " + f.DefValue + ")"
		}
		flags = append(flags, manpage.Item{Term: term, Text: usage})
	})
	return manpage.Page{
		Name:    "bitsserver",
		Summary: "a download origin and a server of the BITS upload protocol",
		Synopsis: []string{"bitsserver [-config FILE] [-listen ADDR] [-root DIR] [-upload PREFIX=DIR]... [flags]",
			"bitsserver -hash-password USER < password", "bitsserver -version"},
		Sections: []manpage.Section{
			{Title: "Description", Paragraphs: []string{
				"bitsserver serves GET and HEAD of the regular files under -root, with byte ranges, a strong ETag and Last-Modified, and takes uploads in the BITS upload protocol (BITS_POST: Create-Session, Fragment, Close-Session, Cancel-Session) under each -upload prefix, into its folder; a file appears under its name only when its session closes.",
				"Settings come from flags and from the -config file, whose keys are the flags' names; flags win. It never serves or writes outside its folders, and it stops gracefully on SIGINT or SIGTERM. docs/bitsserver.md in the source describes the protocol, the limits and the config file.",
			}},
			{Title: "Options", Items: flags},
			{Title: "Exit status", Paragraphs: []string{"0 after a clean stop; 1 when it cannot serve; 2 for a usage error."}},
			{Title: "See also", Paragraphs: []string{"bitsadmin(1), bitsjob(1)"}},
		},
	}.Render()
}
