package hashkey

import (
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"testing"
)

type hashKeysFile struct {
	PartitionKeys []struct {
		PartitionKey   string `json:"partition_key"`
		HashKeyDecimal string `json:"hash_key_decimal"`
	} `json:"partition_keys"`
	ExplicitHashKeyValidation struct {
		Cases []map[string]any `json:"cases"`
	} `json:"explicit_hash_key_validation"`
}

func loadVectors(t testing.TB) hashKeysFile {
	t.Helper()
	b, err := os.ReadFile("../testdata/aggregation/hash_keys.json")
	if err != nil {
		t.Fatal(err)
	}
	var f hashKeysFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFromPartitionKeyGolden(t *testing.T) {
	f := loadVectors(t)
	if len(f.PartitionKeys) < 50 {
		t.Fatalf("only %d partition key vectors", len(f.PartitionKeys))
	}
	for _, v := range f.PartitionKeys {
		if got := FromPartitionKey(v.PartitionKey).String(); got != v.HashKeyDecimal {
			t.Errorf("FromPartitionKey(%q) = %s, want %s", v.PartitionKey, got, v.HashKeyDecimal)
		}
		k, err := ParseDecimal(v.HashKeyDecimal)
		if err != nil || k != FromPartitionKey(v.PartitionKey) {
			t.Errorf("ParseDecimal(%s) = %v, %v", v.HashKeyDecimal, k, err)
		}
	}
}

func TestParseDecimalGolden(t *testing.T) {
	f := loadVectors(t)
	if len(f.ExplicitHashKeyValidation.Cases) == 0 {
		t.Fatal("no validation cases")
	}
	for _, c := range f.ExplicitHashKeyValidation.Cases {
		in, _ := c["explicit_hash_key"].(string)
		valid, _ := c["valid"].(bool)
		k, err := ParseDecimal(in)
		if valid != (err == nil) {
			t.Errorf("ParseDecimal(%q): err=%v, want valid=%v (%v)", in, err, valid, c)
			continue
		}
		if valid && k.String() != in {
			t.Errorf("ParseDecimal(%q).String() = %s", in, k.String())
		}
	}
}

func TestDecimalRoundTrip(t *testing.T) {
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	cases := []string{"0", "1", "9", "10", "18446744073709551615", "18446744073709551616",
		"10000000000000000000", "9999999999999999999", "100000000000000000000000000000000000000",
		max.String()}
	for _, s := range cases {
		k, err := ParseDecimal(s)
		if err != nil {
			t.Fatalf("ParseDecimal(%s): %v", s, err)
		}
		if k.String() != s {
			t.Errorf("round trip %s -> %s", s, k.String())
		}
	}
	if k, _ := ParseDecimal(max.String()); k != Max {
		t.Errorf("max parsed to %v", k)
	}
	bad := []struct {
		in  string
		err error
	}{
		{"", ErrSyntax}, {"01", ErrSyntax}, {"-1", ErrSyntax}, {"1a", ErrSyntax}, {" 1", ErrSyntax},
		{"340282366920938463463374607431768211456", ErrRange},
		{"999999999999999999999999999999999999999", ErrRange},
		{"1000000000000000000000000000000000000000", ErrSyntax},
	}
	for _, b := range bad {
		if _, err := ParseDecimal(b.in); !errors.Is(err, b.err) {
			t.Errorf("ParseDecimal(%q) = %v, want %v", b.in, err, b.err)
		}
	}
}

func TestArithmetic(t *testing.T) {
	if k, o := Max.Add1(); !o || k != (Key{}) {
		t.Errorf("Max+1 = %v %v", k, o)
	}
	if k, u := (Key{}).Sub1(); !u || k != Max {
		t.Errorf("0-1 = %v %v", k, u)
	}
	if k, _ := (Key{Lo: ^uint64(0)}).Add1(); k != (Key{Hi: 1}) {
		t.Errorf("carry: %v", k)
	}
	if m := Mid(Key{}, Max); m != (Key{Hi: 1<<63 - 1, Lo: ^uint64(0)}) {
		t.Errorf("Mid = %v", m)
	}
	if (Key{Hi: 1}).Compare(Key{Lo: 5}) != 1 || !(Key{Lo: 5}).Less(Key{Hi: 1}) {
		t.Error("compare")
	}
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "123", "340282366920938463463374607431768211455", "01", "x"} {
		f.Add(s)
	}
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseDecimal(s)
		b, ok := new(big.Int).SetString(s, 10)
		canonical := ok && b.Sign() >= 0 && b.String() == s && b.Cmp(max) <= 0
		if canonical != (err == nil) {
			t.Fatalf("ParseDecimal(%q) err=%v, big says canonical=%v", s, err, canonical)
		}
		if err == nil && k.String() != s {
			t.Fatalf("round trip %q -> %s", s, k.String())
		}
	})
}

func BenchmarkFromPartitionKey(b *testing.B) {
	for i := 0; i < b.N; i++ {
		_ = FromPartitionKey("kube-system/coredns-5d78c9869d-abcde")
	}
}
