package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// report collects every run's values by row and library.
type report struct {
	libs []string
	rows []*row
	idx  map[string]*row
}

type row struct {
	label, unit string
	kind        string
	values      map[string][]float64 // per library, one per rep
	hwm         map[string][]float64 // peak RSS in MiB per library
	errs        map[string]string
}

func newReport(libs []string) *report {
	return &report{libs: libs, idx: map[string]*row{}}
}

func (r *report) row(label, unit, kind string) *row {
	if w, ok := r.idx[label]; ok {
		return w
	}
	w := &row{label: label, unit: unit, kind: kind,
		values: map[string][]float64{}, hwm: map[string][]float64{}, errs: map[string]string{}}
	r.idx[label] = w
	r.rows = append(r.rows, w)
	return w
}

func (r *report) add(s scenario, lib string, o outcome, err error) {
	units := s.units()
	for i, label := range s.rows() {
		w := r.row(label, units[i], s.kind)
		if err != nil {
			if _, ok := w.errs[lib]; !ok {
				msg := err.Error()
				if len(msg) > 60 {
					msg = msg[:60] + "…"
				}
				w.errs[lib] = msg
			}
			continue
		}
		if i < len(o.values) {
			w.values[lib] = append(w.values[lib], o.values[i])
		}
		if i == 0 && o.hwm > 0 {
			w.hwm[lib] = append(w.hwm[lib], float64(o.hwm)/(1<<20))
		}
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// fmtNum prints three significant digits or so.
func fmtNum(x float64) string {
	switch a := math.Abs(x); {
	case math.IsNaN(x):
		return "–"
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	case a >= 1:
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.3f", x)
}

// best is the lowest median in the row among the libraries other than the
// floors ref and ref-rm (or among all if only floors ran).
func (w *row) best(libs []string) float64 {
	b := math.NaN()
	for _, lib := range libs {
		if strings.HasPrefix(lib, "ref") && !allRef(libs) {
			continue
		}
		if m := median(w.values[lib]); !math.IsNaN(m) && (math.IsNaN(b) || m < b) {
			b = m
		}
	}
	return b
}

func (r *report) print(out io.Writer, header string) {
	fmt.Fprintln(out, header)
	fmt.Fprintln(out)
	fmt.Fprintf(out, "| scenario | unit | %s |\n", strings.Join(r.libs, " | "))
	fmt.Fprintf(out, "|---|---|%s\n", strings.Repeat("---:|", len(r.libs)))
	for _, w := range r.rows {
		best := w.best(r.libs)
		cells := make([]string, len(r.libs))
		for i, lib := range r.libs {
			v := w.values[lib]
			switch {
			case len(v) == 0 && w.errs[lib] != "":
				cells[i] = "ERR: " + strings.ReplaceAll(w.errs[lib], "|", "/")
			case len(v) == 0:
				cells[i] = "–"
			default:
				m := median(v)
				cell := fmtNum(m)
				if len(v) > 1 {
					cell += fmt.Sprintf(" (%s–%s)", fmtNum(slices.Min(v)), fmtNum(slices.Max(v)))
				}
				ratio := fmt.Sprintf("×%.2f", m/best)
				if m == best {
					ratio = "**" + ratio + "**"
				}
				cell += " " + ratio
				if w.errs[lib] != "" {
					cell += " (some runs failed)"
				}
				cells[i] = cell
			}
		}
		fmt.Fprintf(out, "| %s | %s | %s |\n", w.label, w.unit, strings.Join(cells, " | "))
	}

	// Handshakes per CPU second, from the upgrade row.
	for _, w := range r.rows {
		if w.kind != "upgrade" {
			continue
		}
		var parts []string
		for _, lib := range r.libs {
			if m := median(w.values[lib]); !math.IsNaN(m) && m > 0 {
				parts = append(parts, fmt.Sprintf("%s %.0f", lib, 1e6/m))
			}
		}
		fmt.Fprintf(out, "\nHandshakes per server CPU second (median): %s.\n", strings.Join(parts, ", "))
	}

	// Peak RSS of the server at the end of each CPU run.
	var mem []*row
	for _, w := range r.rows {
		if w.kind != "idle" && w.kind != "upgrade" && len(w.hwm) > 0 {
			mem = append(mem, w)
		}
	}
	if len(mem) == 0 {
		return
	}
	fmt.Fprintln(out, "\nServer peak RSS (VmHWM, MiB, median) at the end of each run:")
	fmt.Fprintln(out)
	fmt.Fprintf(out, "| scenario | %s |\n", strings.Join(r.libs, " | "))
	fmt.Fprintf(out, "|---|%s\n", strings.Repeat("---:|", len(r.libs)))
	for _, w := range mem {
		cells := make([]string, len(r.libs))
		for i, lib := range r.libs {
			cells[i] = fmtNum(median(w.hwm[lib]))
		}
		fmt.Fprintf(out, "| %s | %s |\n", w.label, strings.Join(cells, " | "))
	}
}

// allRef reports whether libs holds floors only.
func allRef(libs []string) bool {
	for _, lib := range libs {
		if !strings.HasPrefix(lib, "ref") {
			return false
		}
	}
	return true
}
