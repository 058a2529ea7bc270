package gguf

import (
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Dump writes a human-readable listing of f: version, metadata (arrays
// shortened to their first few elements) and one line per tensor with its
// type, dimensions, size and offset.
func (f *File) Dump(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "GGUF v%d  %s  %d bytes  alignment %d  data at %d\n", f.Version, f.Path, f.Size, f.Alignment, f.DataOffset)
	fmt.Fprintf(&b, "%d metadata entries:\n", len(f.KV))
	for _, kv := range f.KV {
		fmt.Fprintf(&b, "  %-45s %s\n", kv.Key, FormatValue(kv.Value, 8))
	}
	fmt.Fprintf(&b, "%d tensors:\n", len(f.Tensors))
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		n, _ := ti.Size()
		fmt.Fprintf(&b, "  %-40s %-5s %-22s %10d bytes at %d\n", ti.Name, ti.Type, fmt.Sprint(ti.Dims), n, ti.Offset)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// FormatValue renders a metadata value with its GGUF type, showing at most
// maxElems elements of an array: `uint32 4096`, `[]string(32000) ["<unk>" "<s>" ...]`.
func FormatValue(v any, maxElems int) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		if s, ok := v.(string); ok {
			if len(s) > 200 {
				return fmt.Sprintf("string %q... (%d bytes)", s[:200], len(s))
			}
			return fmt.Sprintf("string %q", s)
		}
		return fmt.Sprintf("%T %v", v, v)
	}
	var parts []string
	for i := 0; i < rv.Len() && i < maxElems; i++ {
		el := rv.Index(i).Interface()
		switch x := el.(type) {
		case string:
			parts = append(parts, fmt.Sprintf("%q", x))
		default:
			if reflect.ValueOf(el).Kind() == reflect.Slice {
				parts = append(parts, FormatValue(el, maxElems))
			} else {
				parts = append(parts, fmt.Sprint(el))
			}
		}
	}
	if rv.Len() > maxElems {
		parts = append(parts, "...")
	}
	return fmt.Sprintf("%T(%d) [%s]", v, rv.Len(), strings.Join(parts, " "))
}
