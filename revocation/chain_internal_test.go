package revocation

import (
	"testing"
	"time"
)

// TestChains covers IDs whose hashes collide, which a 64-bit seeded hash
// makes too rare to meet otherwise: records of one hash are chained,
// replaced and dropped one by one.
func TestChains(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	e := func(id string) *Entry {
		return &Entry{Kind: Subject, Subject: id, At: at, Until: at.Add(time.Hour)}
	}
	var head *record
	for _, id := range []string{"a", "b", "c"} {
		head = replace(head, head.find(id).with(e(id), item{at: 1, until: 10, reason: id}))
	}
	head = replace(head, head.find("b").with(e("b"), item{at: 2, until: 20, reason: "b2"}))
	ids := func(h *record) (out []string) {
		for r := h; r != nil; r = r.next {
			out = append(out, r.id+"="+r.subject.reason)
		}
		return out
	}
	if got := ids(head); len(got) != 3 || got[0] != "a=a" || got[1] != "c=c" || got[2] != "b=b2" {
		t.Fatalf("chain = %v, want [a=a c=c b=b2]", got)
	}
	if r := head.find("c"); r == nil || r.subject.reason != "c" {
		t.Fatalf("find(c) = %+v", r)
	}
	if head.find("d") != nil {
		t.Fatal("find(d) found a record")
	}
	head = without(head, "c")
	if got := ids(head); len(got) != 2 || got[0] != "a=a" || got[1] != "b=b2" {
		t.Fatalf("chain without c = %v, want [a=a b=b2]", got)
	}
	kept, dropped := head.find("b").without(15)
	if kept != head.find("b") || dropped != 0 {
		t.Fatalf("without(15) of b (until 20) = %p, %d; want the record itself, 0", kept, dropped)
	}
	if kept, dropped := head.find("a").without(15); kept != nil || dropped != 1 {
		t.Fatalf("without(15) of a (until 10) = %+v, %d; want nil, 1", kept, dropped)
	}
}
