// Package arch holds no code: its test holds the arrows between the
// project's packages, which docs/architecture.md draws. The test judges
// the whole module rather than one layer, so it lives in a package of its
// own; at the module root it would make "bits" an importable package.
package arch
