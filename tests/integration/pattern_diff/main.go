// Reads [{"re": pattern, "v": [values]}] (JSON) on stdin and writes, for
// each, whether regexp.MatchString accepts each value: the Go side of
// tests/integration/test_patterns.py.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
)

type pcase struct {
	Re string   `json:"re"`
	V  []string `json:"v"`
}

func main() {
	var cases []pcase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := make([]any, len(cases))
	for i, c := range cases {
		re, err := regexp.Compile(c.Re)
		if err != nil {
			out[i] = err.Error()
			continue
		}
		m := make([]bool, len(c.V))
		for j, v := range c.V {
			m[j] = re.MatchString(v)
		}
		out[i] = m
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(2)
	}
}
