package config

import (
	"reflect"
	"testing"
)

// A shared default names a variable, and replaces its field's default tag: a default is
// written in one place.
func TestSharedDefaultsAreDefinedOnce(t *testing.T) {
	fields := map[string]reflect.StructField{}
	eachField(reflect.New(reflect.TypeOf(Config{})).Elem(), func(f reflect.StructField, _ reflect.Value) {
		fields[f.Tag.Get("envconfig")] = f
	})
	for name, def := range sharedDefaults {
		f, ok := fields[name]
		switch {
		case !ok:
			t.Errorf("shared default of %s: no such variable", name)
		case f.Tag.Get("default") != "":
			t.Errorf("%s has a default tag %q besides its shared default %q", name, f.Tag.Get("default"), def)
		case def == "":
			t.Errorf("%s: empty shared default", name)
		}
	}
}
