package bitsjob

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestAppendJobMatchesEncodingJSON: appendJob writes what json.Marshal
// writes for the same jobJSON, byte for byte, over thousands of values
// filled at random field by field (through reflection, so a field added to
// the structs is filled too and fails the test until appendJob writes it):
// odd strings, nil and empty slices, nil pointers, zero values of
// omitempty fields, extreme numbers, times in other zones.
func TestAppendJobMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var buf []byte
	for i := range 5000 {
		var v jobJSON
		fill(r, reflect.ValueOf(&v).Elem())
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		buf = appendJob(buf[:0], &v)
		if !bytes.Equal(buf, want) {
			t.Fatalf("value %d:\nappendJob writes %s\njson.Marshal     %s", i, buf, want)
		}
	}
}

// oddStrings are pieces of the strings fill makes: what JSON escapes, what
// Go's encoder escapes beyond that, and bytes that are not UTF-8.
var oddStrings = []string{"", "a", "job-1", `"`, `\`, "/", "<", ">", "&", "\b", "\f", "\n", "\r", "\t", "\x00", "\x1f", "\x7f",
	"é", "日本", "😀", "\u2028", "\u2029", "\xff", "\xe2\x80", "\xed\xa0\x80", "http://h/a b?c=d&e=f", `C:\x`, "VM\\root"}

func fill(r *rand.Rand, v reflect.Value) {
	if v.Type() == reflect.TypeFor[jsonTime]() {
		zones := []*time.Location{time.UTC, time.FixedZone("X", -7*3600-1800), time.FixedZone("Y", 14*3600)}
		t := time.Unix(r.Int64N(1<<35)-1<<33, r.Int64N(1e9)*int64(r.IntN(2))).In(zones[r.IntN(len(zones))])
		v.Set(reflect.ValueOf(jsonTime(t)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		var s string
		for range r.IntN(4) {
			s += oddStrings[r.IntN(len(oddStrings))]
		}
		v.SetString(s)
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 1)
	case reflect.Int, reflect.Int32, reflect.Int64:
		ns := []int64{0, 0, 1, -1, 600, math.MaxInt32, math.MinInt32, r.Int64()}
		n := ns[r.IntN(len(ns))]
		if v.Kind() == reflect.Int32 {
			n = int64(int32(n))
		}
		v.SetInt(n)
	case reflect.Uint32, reflect.Uint64:
		ns := []uint64{0, 0, 1, math.MaxUint32, math.MaxUint64, r.Uint64()}
		n := ns[r.IntN(len(ns))]
		if v.Kind() == reflect.Uint32 {
			n = uint64(uint32(n))
		}
		v.SetUint(n)
	case reflect.Pointer:
		if r.IntN(3) == 0 {
			return // nil
		}
		p := reflect.New(v.Type().Elem())
		fill(r, p.Elem())
		v.Set(p)
	case reflect.Slice:
		if r.IntN(4) == 0 {
			return // nil
		}
		s := reflect.MakeSlice(v.Type(), r.IntN(4), 4)
		for i := range s.Len() {
			fill(r, s.Index(i))
		}
		v.Set(s)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(r, v.Field(i))
		}
	default:
		panic("fill: no case for " + v.Type().String())
	}
}
