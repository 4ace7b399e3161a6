package configs

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
)

// Section is a documentation group of options, chosen by key prefix.
type Section struct {
	Title    string
	Prefixes []string
}

// sections group options for docs and conf/config.yaml; the first section whose prefix matches
// (longest prefixes are listed first where they overlap) wins. Keys matching none go to "Other".
var sections = []Section{
	{"Core", []string{"parallelism.", "pipeline.", "execution.runtime-mode", "execution.target", "execution.attached", "execution.shutdown-on-attached-exit", "execution.buffer-timeout", "execution.state-recovery.", "io.", "local."}},
	{"Checkpointing", []string{"execution.checkpointing."}},
	{"State backends", []string{"state."}},
	{"Fault tolerance", []string{"restart-strategy.", "jobmanager.execution.failover-strategy"}},
	{"JobManager and REST", []string{"jobmanager.", "rest.", "web.", "heartbeat."}},
	{"Client", []string{"client."}},
	{"Resource manager", []string{"resourcemanager.", "slotmanager.", "slot."}},
	{"TaskManager", []string{"taskmanager."}},
	{"YARN", []string{"yarn."}},
	{"High availability", []string{"high-availability"}},
	{"File systems", []string{"fs.", "s3."}},
	{"Security", []string{"security."}},
}

// SectionOf returns the title of the documentation section of key.
func SectionOf(key string) string {
	for _, s := range sections {
		for _, p := range s.Prefixes {
			if strings.HasPrefix(key, p) {
				return s.Title
			}
		}
	}
	return "Other"
}

// sectionGroup is the options of one documentation section.
type sectionGroup struct {
	title string
	specs []*Spec
}

// groupedOptions returns the registered options grouped by section, in document order,
// leaving out empty sections.
func groupedOptions() []sectionGroup {
	bySection := map[string][]*Spec{}
	for _, s := range All() {
		t := SectionOf(s.Key)
		bySection[t] = append(bySection[t], s)
	}
	var out []sectionGroup
	for _, t := range sectionTitles() {
		if len(bySection[t]) > 0 {
			out = append(out, sectionGroup{t, bySection[t]})
		}
	}
	return out
}

// sectionTitles returns the section titles in document order.
func sectionTitles() []string {
	t := make([]string, 0, len(sections)+1)
	for _, s := range sections {
		t = append(t, s.Title)
	}
	return append(t, "Other")
}

// sensitiveKey reports whether a key's value must be masked, by the same rule as Flink's
// GlobalConfiguration.isSensitive (key names containing secret-like words).
var sensitiveKey = regexp.MustCompile(`(?i)password|secret|fs\.azure\.account\.key|apikey|api-key|auth-params|service-key|token|basic-auth|jaas\.config|http-headers`)

// IsSensitive reports whether the value of key must be hidden when printed.
func IsSensitive(key string) bool {
	if s, _, ok := LookupSpec(key); ok && s.Sensitive {
		return true
	}
	return sensitiveKey.MatchString(key)
}

// Masked is printed in place of sensitive values.
const Masked = "******"

// RenderOptions controls Render.
type RenderOptions struct {
	// All lists every known option (defaults included), not just the values that are set.
	All bool
	// ShowSecrets prints sensitive values instead of masking them.
	ShowSecrets bool
	// JSON writes a JSON array of {key, value, origin, ...} objects instead of a table.
	JSON bool
}

// RenderedEntry is one row of Render's JSON output.
type RenderedEntry struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Origin string `json:"origin"`
	// Default is true for unset options listed with their default.
	Default bool `json:"default,omitempty"`
	// SetAs is the deprecated key the value was set under.
	SetAs string `json:"set-as,omitempty"`
	// Type is the option's type; empty for pass-through keys.
	Type string `json:"type,omitempty"`
	// NoDefault is true for unset options without a default (value is empty).
	NoDefault bool `json:"no-default,omitempty"`
	// Ignored is true for JVM-only Flink keys that flink-go accepts without effect, and for
	// options marked WithoutEffect.
	Ignored bool `json:"ignored,omitempty"`
}

// Render writes the effective configuration as a table with each value's origin (used by
// `flink-go config`). With All, unset options are listed with their defaults ("(none)" when
// they have none), marked by the origin "default".
func Render(w io.Writer, c *Configuration, o RenderOptions) error {
	if c == nil {
		c = New()
	}
	entries := c.Entries()
	if o.All {
		entries = c.EffectiveEntries()
	}
	if o.JSON {
		rows := make([]RenderedEntry, 0, len(entries))
		for _, e := range entries {
			r := RenderedEntry{Key: e.Key, Value: e.Value, Origin: e.Origin.String(), Default: e.IsDefault(), SetAs: e.SetAs}
			if e.Spec != nil {
				r.Type = string(e.Spec.Kind)
				r.NoDefault = e.IsDefault() && !e.Spec.HasDefault
				r.Ignored = e.Spec.NoEffect != ""
			} else if p, _ := passThroughFor(e.Key); p.Ignored {
				r.Ignored = true
			}
			if !o.ShowSecrets && IsSensitive(e.Key) && r.Value != "" {
				r.Value = Masked
			}
			rows = append(rows, r)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return fmt.Errorf("writing configuration as JSON: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if _, err := fmt.Fprintln(tw, "KEY\tVALUE\tORIGIN"); err != nil {
		return fmt.Errorf("writing configuration table: %w", err)
	}
	for _, e := range entries {
		val := e.Value
		switch {
		case e.IsDefault() && e.Spec != nil && !e.Spec.HasDefault:
			val = "(none)"
		case !o.ShowSecrets && IsSensitive(e.Key) && val != "":
			val = Masked
		}
		origin := e.Origin.String()
		if e.SetAs != "" {
			origin += " (as deprecated " + e.SetAs + ")"
		}
		if e.Spec != nil && e.Spec.NoEffect != "" && !e.IsDefault() {
			origin += " (no effect in flink-go)"
		}
		if e.Spec == nil && !e.IsDefault() {
			if p, _ := passThroughFor(e.Key); p.Ignored {
				origin += " (ignored: JVM-only)"
			} else {
				origin += " (pass-through)"
			}
		}
		if _, err := fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Key, oneLine(val), origin); err != nil {
			return fmt.Errorf("writing configuration table: %w", err)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing configuration table: %w", err)
	}
	return nil
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", `\n`)
	return strings.ReplaceAll(s, "\t", " ")
}

// Markdown renders the reference table of every registered option, grouped by section, plus
// the pass-through namespaces. docs/configuration.md embeds it between generated-code markers.
func Markdown() string {
	var b strings.Builder
	for _, sec := range groupedOptions() {
		title, specs := sec.title, sec.specs
		fmt.Fprintf(&b, "### %s\n\n", title)
		b.WriteString("| Key | Type | Default | Description |\n|---|---|---|---|\n")
		for _, s := range specs {
			def := "(none)"
			if s.HasDefault {
				def = "`" + s.Default + "`"
				if s.Default == "" {
					def = `""`
				}
			}
			typ := string(s.Kind)
			desc := s.Description
			if s.Kind == KindEnum {
				desc += " Values: " + codeList(s.EnumValues) + "."
			}
			if len(s.Constraints) > 0 {
				desc += " Must be " + strings.Join(s.Constraints, " and ") + "."
			}
			if s.Kind == KindList && s.Separator != ';' {
				desc += fmt.Sprintf(" Separator: `%c`.", s.Separator)
			}
			if len(s.DeprecatedKeys) > 0 {
				desc += " Deprecated keys: " + codeList(s.DeprecatedKeys) + "."
			}
			if len(s.FallbackKeys) > 0 {
				desc += " Falls back to: " + codeList(s.FallbackKeys) + "."
			}
			if s.Sensitive {
				desc += " Secret: masked when printed."
			}
			if s.NoEffect != "" {
				desc = "**No effect in flink-go** (accepted for compatibility, a warning is logged): " + s.NoEffect + " Flink: " + desc
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", s.Key, typ, mdEscape(def), mdEscape(desc))
		}
		b.WriteString("\n")
	}
	b.WriteString("### Pass-through namespaces\n\nKeys under these prefixes are accepted without validation (known options inside them are still checked). " +
		"\"passed on\" keys are handed to the component named; \"ignored\" keys are JVM-only Flink settings, accepted so that existing Flink configurations load, with a warning that they have no effect.\n\n" +
		"| Prefix | Effect | Purpose |\n|---|---|---|\n")
	pts := PassThroughs()
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].Prefix < pts[j].Prefix })
	for _, p := range pts {
		effect := "passed on"
		if p.Ignored {
			effect = "ignored"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", patternOf(p), effect, mdEscape(p.Purpose))
	}
	return b.String()
}

// patternOf renders a pass-through as "prefix*" or, for a single key, the key.
func patternOf(p PassThrough) string {
	if strings.HasSuffix(p.Prefix, ".") || strings.HasSuffix(p.Prefix, "-") {
		return p.Prefix + "*"
	}
	return p.Prefix
}

func codeList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = "`" + s + "`"
	}
	return strings.Join(q, ", ")
}

func mdEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

// DefaultConfigYAML renders conf/config.yaml: every option, grouped by section, commented out
// with its description and default, so the file documents the defaults and loads as empty.
func DefaultConfigYAML() string {
	var b strings.Builder
	b.WriteString(`# flink-go configuration (Flink 2 config.yaml format).
#
# Every known option is listed below, commented out, with its default. Uncomment a line to
# change a value. Keys may be written flat ("a.b.c: v") or nested as YAML mappings; lists may
# be YAML lists. Precedence, lowest first: defaults < this file < FLINK_PROPERTIES <
# classifications (e.g. EMR) < -D key=value. Unknown keys are errors, except in the
# pass-through namespaces listed at the end. See docs/configuration.md.
#
# This file is generated by configs.DefaultConfigYAML(); a test checks that it is current.
`)
	for _, sec := range groupedOptions() {
		title, specs := sec.title, sec.specs
		fmt.Fprintf(&b, "\n#==============================================================================\n# %s\n#==============================================================================\n", title)
		for _, s := range specs {
			b.WriteString("\n")
			if s.NoEffect != "" {
				for _, l := range wrap("NO EFFECT in flink-go (accepted for compatibility): "+s.NoEffect, 96) {
					b.WriteString("# " + l + "\n")
				}
			}
			for _, l := range wrap(s.Description, 96) {
				b.WriteString("# " + l + "\n")
			}
			if s.Kind == KindEnum {
				b.WriteString("# Values: " + strings.Join(s.EnumValues, ", ") + ".\n")
			}
			if len(s.Constraints) > 0 {
				b.WriteString("# Must be " + strings.Join(s.Constraints, " and ") + ".\n")
			}
			if s.HasDefault {
				fmt.Fprintf(&b, "# %s: %s\n", s.Key, yamlScalar(s.Default))
			} else {
				fmt.Fprintf(&b, "# %s:\n", s.Key)
			}
		}
	}
	b.WriteString("\n#==============================================================================\n# Pass-through namespaces (not validated)\n#==============================================================================\n")
	for _, p := range PassThroughs() {
		if p.Ignored {
			continue
		}
		fmt.Fprintf(&b, "# %s  %s\n", patternOf(p), p.Purpose)
	}
	b.WriteString("#\n# Accepted but ignored (JVM-only Flink settings, a warning is logged):\n")
	for _, p := range PassThroughs() {
		if p.Ignored {
			fmt.Fprintf(&b, "# %s\n", patternOf(p))
		}
	}
	return b.String()
}

// yamlScalar quotes s when YAML would not read it back as the same string.
func yamlScalar(s string) string {
	if s == "" {
		return `""`
	}
	if strings.ContainsAny(s, `:#'"{}[],&*!|>%@`+"`") || strings.TrimSpace(s) != s {
		return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
	}
	return s
}

func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
