package partoosim

import (
	"container/heap"
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// Activity shapes what a Generator does. Zero values take the defaults in brackets.
type Activity struct {
	MessagesPerSecond    float64       // new messages per second [1]
	NewConversationShare float64       // share of new messages that open a conversation [0.05]
	UserShare            float64       // share of new messages sent by a User [0.4]
	MetadataShare        float64       // share that are Metadata [0.05]; the rest are Consumer
	StatusDelayMin       time.Duration // Sending → terminal after [1 s] …
	StatusDelayMax       time.Duration // … to [30 s]
	FailureRatio         float64       // share of User messages that fail [0.1]
	RetryRatio           float64       // share of failed messages retried [0.6]
	RetryDelayMax        time.Duration // a retry happens within [60 s] of the failure
	DeleteRatio          float64       // share of Instagram Consumer messages deleted [0.05]
	DeleteDelayMax       time.Duration // a deletion happens within [5 min]
	UnknownRatio         float64       // share with an unknown content_type or sender_type [0.01]
	HotConversations     int           // size of the set of recently active conversations [50]
	HotShare             float64       // share of messages that go to that set [0.7]
}

func (a *Activity) defaults() {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&a.MessagesPerSecond, 1)
	def(&a.NewConversationShare, 0.05)
	def(&a.UserShare, 0.4)
	def(&a.MetadataShare, 0.05)
	def(&a.FailureRatio, 0.1)
	def(&a.RetryRatio, 0.6)
	def(&a.DeleteRatio, 0.05)
	def(&a.UnknownRatio, 0.01)
	def(&a.HotShare, 0.7)
	setDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	setDur(&a.StatusDelayMin, time.Second)
	setDur(&a.StatusDelayMax, 30*time.Second)
	setDur(&a.RetryDelayMax, time.Minute)
	setDur(&a.DeleteDelayMax, 5*time.Minute)
	if a.HotConversations == 0 {
		a.HotConversations = 50
	}
}

// Partners are the channels new conversations are opened on, Instagram among them.
var Partners = []model.Partner{model.PartnerWhatsapp, model.PartnerInstagram, model.PartnerFacebook, model.PartnerGoogle, model.PartnerSMS}

type actionKind int

const (
	actSettle actionKind = iota // Sending → Success or Failed
	actRetry                    // Failed → Sending
	actDelete                   // consumer deletes
)

type action struct {
	at   time.Time
	kind actionKind
	msg  int64
}

type actionQueue []action

func (q actionQueue) Len() int           { return len(q) }
func (q actionQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q actionQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *actionQueue) Push(x any)        { *q = append(*q, x.(action)) }
func (q *actionQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// Generator produces seeded, lifelike activity in a Sim: new conversations and messages,
// status transitions, retries and Instagram deletions. Drive it with Tick (simulated time) or
// Run (its clock). It is not safe for concurrent use; the Sim it drives is.
type Generator struct {
	sim     *Sim
	act     Activity
	rnd     *rand.Rand
	next    time.Time // next message arrival
	pending actionQueue
	hot     []int64 // recently active conversations
	seq     int
}

// NewGenerator returns a generator for sim, seeded for repeatable runs.
func NewGenerator(sim *Sim, act Activity, seed uint64) *Generator {
	act.defaults()
	g := &Generator{sim: sim, act: act, rnd: rand.New(rand.NewPCG(seed, 0x9e37))}
	return g
}

// Populate creates an organisation's history: n conversations with about perConversation
// messages each, dated over the span before now, all in a terminal status (some Instagram
// messages deleted). Every message is in the ground-truth log as created at its date.
func (g *Generator) Populate(n, perConversation int, span time.Duration) {
	now := g.sim.clock.Now()
	start := now.Add(-span)
	for i := 0; i < n; i++ {
		partner := Partners[g.rnd.IntN(len(Partners))]
		created := start.Add(time.Duration(g.rnd.Float64() * float64(span) * 0.5))
		c := g.sim.CreateConversation(ConversationSpec{Partner: partner, BusinessID: int64(1 + g.rnd.IntN(5)), CreatedAt: created})
		k := perConversation
		if perConversation > 1 {
			k = 1 + g.rnd.IntN(2*perConversation-1)
		}
		step := now.Sub(created) / time.Duration(k+1)
		for j := 0; j < k; j++ {
			spec := g.messageSpec(c.ID)
			spec.Date = created.Add(step * time.Duration(j+1))
			if spec.Status == model.StatusSending {
				spec.Status = model.StatusSuccess
				if g.rnd.Float64() < g.act.FailureRatio {
					spec.Status = model.StatusFailed
				}
			}
			m, err := g.sim.AddMessage(spec)
			if err == nil && partner == model.PartnerInstagram && m.SenderType == model.SenderConsumer && g.rnd.Float64() < g.act.DeleteRatio {
				g.sim.mu.Lock()
				_ = g.sim.deleteMessageAt(m.ID, spec.Date)
				g.sim.mu.Unlock()
			}
		}
		g.touch(c.ID)
	}
}

// Tick performs every arrival and scheduled transition due up to the simulator's clock.
// It returns the number of changes made.
func (g *Generator) Tick() int {
	now := g.sim.clock.Now()
	if g.next.IsZero() {
		g.next = now.Add(g.interArrival())
	}
	n := 0
	for {
		nextAction := time.Time{}
		if len(g.pending) > 0 {
			nextAction = g.pending[0].at
		}
		switch {
		case !nextAction.IsZero() && !nextAction.After(now) && !nextAction.After(g.next):
			a := heap.Pop(&g.pending).(action)
			n += g.perform(a)
		case !g.next.After(now):
			g.arrive()
			n++
			g.next = g.next.Add(g.interArrival())
		default:
			return n
		}
	}
}

// NextEvent returns when the next arrival or scheduled transition is due (zero before the
// first Tick), so a simulated clock can stop exactly there.
func (g *Generator) NextEvent() time.Time {
	t := g.next
	if len(g.pending) > 0 && (t.IsZero() || g.pending[0].at.Before(t)) {
		t = g.pending[0].at
	}
	return t
}

// Run ticks every interval of the simulator's clock until ctx ends.
func (g *Generator) Run(ctx context.Context, interval time.Duration) error {
	for {
		g.Tick()
		if err := clock.Sleep(ctx, g.sim.clock, interval); err != nil {
			return err
		}
	}
}

func (g *Generator) interArrival() time.Duration {
	return time.Duration(g.rnd.ExpFloat64() / g.act.MessagesPerSecond * float64(time.Second))
}

func (g *Generator) uniform(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(g.rnd.Int64N(int64(hi-lo)))
}

func (g *Generator) arrive() {
	var cid int64
	ids := g.sim.ConversationIDs()
	switch {
	case len(ids) == 0 || g.rnd.Float64() < g.act.NewConversationShare:
		partner := Partners[g.rnd.IntN(len(Partners))]
		cid = g.sim.CreateConversation(ConversationSpec{Partner: partner, BusinessID: int64(1 + g.rnd.IntN(5))}).ID
	case len(g.hot) > 0 && g.rnd.Float64() < g.act.HotShare:
		cid = g.hot[g.rnd.IntN(len(g.hot))]
	default:
		cid = ids[g.rnd.IntN(len(ids))]
	}
	m, err := g.sim.AddMessage(g.messageSpec(cid))
	if err != nil {
		return
	}
	g.touch(cid)
	now := g.sim.clock.Now()
	if m.Status == model.StatusSending {
		heap.Push(&g.pending, action{at: now.Add(g.uniform(g.act.StatusDelayMin, g.act.StatusDelayMax)), kind: actSettle, msg: m.ID})
	}
	if m.SenderType == model.SenderConsumer && g.partner(cid) == model.PartnerInstagram && g.rnd.Float64() < g.act.DeleteRatio {
		heap.Push(&g.pending, action{at: now.Add(g.uniform(time.Second, g.act.DeleteDelayMax)), kind: actDelete, msg: m.ID})
	}
}

func (g *Generator) partner(cid int64) model.Partner {
	g.sim.mu.Lock()
	defer g.sim.mu.Unlock()
	if c, ok := g.sim.convs[cid]; ok {
		return c.Partner
	}
	return ""
}

func (g *Generator) perform(a action) int {
	now := g.sim.clock.Now()
	switch a.kind {
	case actSettle:
		st := model.StatusSuccess
		if g.rnd.Float64() < g.act.FailureRatio {
			st = model.StatusFailed
			if g.rnd.Float64() < g.act.RetryRatio {
				heap.Push(&g.pending, action{at: now.Add(g.uniform(5*time.Second, g.act.RetryDelayMax)), kind: actRetry, msg: a.msg})
			}
		}
		if g.sim.SetStatus(a.msg, st) != nil {
			return 0
		}
	case actRetry:
		if g.sim.SetStatus(a.msg, model.StatusSending) != nil {
			return 0
		}
		heap.Push(&g.pending, action{at: now.Add(g.uniform(g.act.StatusDelayMin, g.act.StatusDelayMax)), kind: actSettle, msg: a.msg})
	case actDelete:
		if g.sim.DeleteMessage(a.msg) != nil {
			return 0
		}
	}
	if m, ok := g.sim.Message(a.msg); ok {
		g.touch(m.ConversationID)
	}
	return 1
}

func (g *Generator) touch(cid int64) {
	for i, id := range g.hot {
		if id == cid {
			g.hot = append(g.hot[:i], g.hot[i+1:]...)
			break
		}
	}
	g.hot = append(g.hot, cid)
	if len(g.hot) > g.act.HotConversations {
		g.hot = g.hot[1:]
	}
}

var (
	unknownContentTypes = []model.ContentType{"Carousel", "Sticker", "Location"}
	unknownSenderTypes  = []model.SenderType{"Bot", "System"}
	texts               = []string{"Hello, are you open on Sunday?", "Thanks!", "Your order is ready.", "Can I book a table for 4?", "We will call you back shortly.", "👍", "Is parking available?", "See you tomorrow"}
)

// messageSpec draws a new message for a conversation: sender, content type and status.
func (g *Generator) messageSpec(cid int64) MessageSpec {
	g.seq++
	spec := MessageSpec{ConversationID: cid, ContentType: model.ContentText, Status: model.StatusSuccess}
	r := g.rnd.Float64()
	switch {
	case r < g.act.UserShare:
		spec.SenderType = model.SenderUser
		spec.Status = model.StatusSending
		uid := fmt.Sprintf("user-%d", 1+g.rnd.IntN(20))
		spec.UserID = &uid
	case r < g.act.UserShare+g.act.MetadataShare:
		spec.SenderType = model.SenderMetadata
	default:
		spec.SenderType = model.SenderConsumer
		if g.rnd.Float64() < 0.1 {
			spec.ContentType = []model.ContentType{model.ContentImage, model.ContentVideo, model.ContentAudio, model.ContentDocument}[g.rnd.IntN(4)]
		}
	}
	spec.Content = texts[g.rnd.IntN(len(texts))]
	if g.rnd.Float64() < g.act.UnknownRatio {
		if g.rnd.IntN(2) == 0 {
			spec.ContentType = unknownContentTypes[g.rnd.IntN(len(unknownContentTypes))]
		} else {
			spec.SenderType = unknownSenderTypes[g.rnd.IntN(len(unknownSenderTypes))]
			spec.Status = model.StatusSuccess
			spec.UserID = nil
		}
	}
	return spec
}
