package config

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/pipeline"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
)

// sharedDefaults are the defaults of the settings whose default the package that applies it
// defines: the environment reads the same constant, so each is written once. Their fields
// have no default tag.
var sharedDefaults = map[string]string{
	"PARTOO_API_URL":             partoo.DefaultAPIURL,
	"PARTOO_REQUESTS_PER_MINUTE": strconv.Itoa(budget.DefaultRequestsPerMinute),
	"PARTOO_MAX_IN_FLIGHT":       strconv.Itoa(pipeline.DefaultMaxInFlight),
	"KAFKA_TRANSACTION_TIMEOUT":  seconds(publish.DefaultTransactionTimeout),
}

// defaultOf is a field's default: its shared default, or its default tag.
func defaultOf(f reflect.StructField) string {
	if d, ok := sharedDefaults[f.Tag.Get("envconfig")]; ok {
		return d
	}
	return f.Tag.Get("default")
}

// seconds writes a duration of whole seconds as the variables are documented: 60s, not 1m0s.
func seconds(d time.Duration) string { return strconv.Itoa(int(d/time.Second)) + "s" }

// unsetKey is a variable name nobody sets: parsing a field under it yields its default.
const unsetKey = "PARTOO_CONNECTOR_CONFIG_UNSET__"

// parse fills spec field by field with envconfig, so that an empty variable takes its default
// without touching the environment, and every field that does not parse is reported.
func parse(spec any) Errors {
	var errs Errors
	eachField(reflect.ValueOf(spec).Elem(), func(f reflect.StructField, v reflect.Value) {
		name := f.Tag.Get("envconfig")
		tag := f.Tag
		if raw, ok := os.LookupEnv(name); !ok || strings.TrimSpace(raw) == "" {
			tag = reflect.StructTag(fmt.Sprintf(`envconfig:%q default:%q`, unsetKey, defaultOf(f)))
		}
		one := reflect.New(reflect.StructOf([]reflect.StructField{{Name: "V", Type: f.Type, Tag: tag}}))
		if err := envconfig.Process("", one.Interface()); err != nil {
			errs = append(errs, &Error{Var: name, Problem: "cannot parse as " + describeType(f.Type.String())})
			return
		}
		v.Set(one.Elem().Field(0))
	})
	return errs
}

func eachField(v reflect.Value, fn func(reflect.StructField, reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			eachField(v.Field(i), fn)
			continue
		}
		if f.Tag.Get("envconfig") == "" {
			continue // not a variable (Config.Organizations)
		}
		fn(f, v.Field(i))
	}
}

// sorted orders errors by the variables' declaration order, one per variable (every problem
// of the organisations file, which has many fields, is kept).
func sorted(errs Errors, vars []Var) Errors {
	pos := map[string]int{}
	for i, v := range vars {
		pos[v.Name] = i
	}
	seen := map[string]bool{}
	out := make(Errors, 0, len(errs))
	for _, e := range errs {
		key := e.Var
		if e.Var == OrganizationsFileVar {
			key = e.Error()
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return pos[out[i].Var] < pos[out[j].Var] })
	return out
}

func describeType(t string) string {
	if i := strings.LastIndexByte(t, '.'); i >= 0 && !strings.HasPrefix(t, "[]") {
		t = t[i+1:]
	}
	switch t {
	case "int", "int16", "int32", "int64":
		return "an integer"
	case "bool":
		return "a boolean (true or false)"
	case "[]int64":
		return "a comma-separated list of integers"
	case "float64", "float32":
		return "a number such as 0.1"
	case "Duration":
		return "a duration such as 2s or 1m"
	case "[]string":
		return "a comma-separated list"
	case "[]time.Duration", "[]Duration":
		return "a comma-separated list of durations such as 1m,5m"
	case "map[string]string":
		return "key:value pairs, comma-separated (e.g. min.compaction.lag.ms:3600000,segment.ms:86400000)"
	}
	return t
}

// Var describes one environment variable.
type Var struct {
	Name, Default, Desc string
}

// Vars lists every variable Config reads, in declaration order.
func Vars() []Var { return vars(reflect.TypeOf(Config{})) }

// KafkaVars lists the variables KafkaConfig reads.
func KafkaVars() []Var { return vars(reflect.TypeOf(KafkaConfig{})) }

func vars(t reflect.Type) []Var {
	var out []Var
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			out = append(out, vars(f.Type)...)
			continue
		}
		if f.Tag.Get("envconfig") == "" {
			continue
		}
		out = append(out, Var{Name: f.Tag.Get("envconfig"), Default: defaultOf(f), Desc: f.Tag.Get("desc")})
	}
	return out
}
