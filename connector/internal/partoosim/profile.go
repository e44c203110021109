package partoosim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Variant is how the simulated API departs from the shape the connector was first written
// against. Partoo documents little beyond the message object, so each of these is a plausible
// real API; the connector must publish every decodable change exactly once against all of
// them, and say loudly what it cannot decode. The zero Variant is the simulator's classic
// shape.
type Variant struct {
	StringIDs           bool    // ids (conversation, message, conversation_id) as numeric strings: "123"
	HexBusinessIDs      bool    // business ids as opaque hex strings, Partoo's usual form
	ExtraFields         bool    // unknown fields of every JSON type, and documented fields of surprising types
	MissingOptional     bool    // optional keys left out instead of null (user_id, custom_channel, sender_label, …)
	CustomChannelObject bool    // custom_channel as an object on every conversation and message
	NullLastMessage     bool    // last_message is always null in listings
	NoFinalCursor       bool    // next_cursor absent on the last page instead of null
	NewestFirst         bool    // GET /messages serves the newest message first
	BadDateRatio        float64 // share of messages whose date no reader understands (fixed per message)
	HTMLErrorRatio      float64 // share of requests answered 502 with an HTML page, as a proxy does
	HTMLOKRatio         float64 // share of requests answered 200 with an HTML page (a captive portal, a login page)
	HangRatio           float64 // share of requests accepted and never answered

	// Everyday glitches of cursor-paginated HTTP sources, as public bug reports show them.
	// None may make the connector publish anything untrue.
	EmptyGlitchRatio     float64       // share of GET /messages answered 200 {"messages": [], "count": <true count>, "next_cursor": null}
	NullMessagesRatio    float64       // share of GET /messages answered 200 {"messages": null, "error": "backend timeout", "count": <n>, "next_cursor": null}
	GlitchFor            time.Duration // once an empty or null page is drawn for a conversation, it lasts this long for that conversation (0: one request)
	ShortPageRatio       float64       // share of message pages (of 2+ items) served without their last item, the cursor moving past it
	CursorIgnoredRatio   float64       // share of GET /messages with a cursor answered with the first page and a new cursor
	BigContentRatio      float64       // share of messages (fixed per message) whose content is BigContentBytes long
	BigContentBytes      int           // size of a big message's content [1.5 MB]
	NanosecondDateRatio  float64       // share of messages (fixed per message) whose date is an epoch number in nanoseconds
	FarDateRatio         float64       // share of messages (fixed per message) dated 1970 or 2999: not true, never published
	RetryAfterEpochRatio float64       // share of requests answered 429 with Retry-After as an epoch timestamp (a few seconds ahead)
	// GlitchesPerConversation, when positive, bounds how many glitches (empty or null spells,
	// short pages, ignored cursors) each conversation suffers: afterwards it is served
	// cleanly. Tests use it to bound how long the connector's back-off can take.
	GlitchesPerConversation int
}

// Profile is a named set of variations for partoo-sim -profile.
type Profile struct {
	Name    string
	Doc     string
	Variant Variant
	Order   Order // "" keeps the configured order
}

// Profiles lists the named profiles, in the order `partoo-sim -help` shows them.
var Profiles = []Profile{
	{Name: "classic", Doc: "the simulator's original shape (numbers for ids, every key present, oldest message first)"},
	{Name: "string-ids", Doc: "ids as numeric strings", Variant: Variant{StringIDs: true}},
	{Name: "hex-business-ids", Doc: "business ids as opaque hex strings", Variant: Variant{HexBusinessIDs: true}},
	{Name: "extra-fields", Doc: "unknown fields of every JSON type; documented fields with surprising types (status as an object: Unknown in the conversations table)", Variant: Variant{ExtraFields: true}},
	{Name: "missing-optional", Doc: "optional keys left out instead of null", Variant: Variant{MissingOptional: true}},
	{Name: "custom-channel-object", Doc: "custom_channel as an object", Variant: Variant{CustomChannelObject: true}},
	{Name: "null-last-message", Doc: "last_message null in every listing", Variant: Variant{NullLastMessage: true}},
	{Name: "no-final-cursor", Doc: "next_cursor absent on the last page", Variant: Variant{NoFinalCursor: true}},
	{Name: "newest-first", Doc: "message pages newest first", Variant: Variant{NewestFirst: true}},
	{Name: "id-order", Doc: "conversations listed by id, not by recent activity", Order: OrderID},
	{Name: "bad-dates", Doc: "3 % of messages carry a date nobody can read", Variant: Variant{BadDateRatio: 0.03}},
	{Name: "html-errors", Doc: "10 % of requests answered 502 with an HTML page, 5 % answered 200 with one", Variant: Variant{HTMLErrorRatio: 0.10, HTMLOKRatio: 0.05}},
	{Name: "hang", Doc: "every request accepted and never answered", Variant: Variant{HangRatio: 1}},
	{Name: "empty-glitch", Doc: "10 % of message pages start 3 s of empty pages for their conversation, with the true count and no next cursor", Variant: Variant{EmptyGlitchRatio: 0.1, GlitchFor: 3 * time.Second}},
	{Name: "null-messages", Doc: `10 % of message pages start 3 s of {"messages": null, "error": "backend timeout"} with status 200`, Variant: Variant{NullMessagesRatio: 0.1, GlitchFor: 3 * time.Second}},
	{Name: "count-short", Doc: "20 % of message pages miss their last item (the cursor moves past it)", Variant: Variant{ShortPageRatio: 0.2}},
	{Name: "cursor-ignored", Doc: "20 % of follow-up message pages ignore the cursor: the first page again, with a new cursor", Variant: Variant{CursorIgnoredRatio: 0.2}},
	{Name: "big-message", Doc: "5 % of messages carry 1.5 MB of content (over Kafka's default max.message.bytes)", Variant: Variant{BigContentRatio: 0.05}},
	{Name: "ns-dates", Doc: "30 % of message dates are epoch nanoseconds", Variant: Variant{NanosecondDateRatio: 0.3}},
	{Name: "far-dates", Doc: "5 % of message dates are 1970 or 2999", Variant: Variant{FarDateRatio: 0.05}},
	{Name: "retry-after-epoch", Doc: "2 % of requests answered 429 with Retry-After as an epoch timestamp", Variant: Variant{RetryAfterEpochRatio: 0.02}},
	{Name: "glitchy", Doc: "every everyday glitch above at once",
		Variant: Variant{EmptyGlitchRatio: 0.05, NullMessagesRatio: 0.05, GlitchFor: 3 * time.Second, ShortPageRatio: 0.1, CursorIgnoredRatio: 0.1, BigContentRatio: 0.03,
			NanosecondDateRatio: 0.3, FarDateRatio: 0.03, RetryAfterEpochRatio: 0.01}},
	{Name: "realistic", Doc: "string ids, hex business ids, extra fields, missing keys, custom_channel objects, no final cursor, newest first",
		Variant: Variant{StringIDs: true, HexBusinessIDs: true, ExtraFields: true, MissingOptional: true, CustomChannelObject: true, NoFinalCursor: true, NewestFirst: true}},
}

// ParseProfile combines comma-separated profile names ("string-ids,newest-first").
func ParseProfile(names string) (Variant, Order, error) {
	var v Variant
	var order Order
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		p, ok := profileByName(n)
		if !ok {
			return Variant{}, "", fmt.Errorf("unknown profile %q (one of %s)", n, strings.Join(ProfileNames(), ", "))
		}
		v = v.merge(p.Variant)
		if p.Order != "" {
			order = p.Order
		}
	}
	return v, order, nil
}

// ProfileNames returns every profile's name.
func ProfileNames() []string {
	out := make([]string, len(Profiles))
	for i, p := range Profiles {
		out[i] = p.Name
	}
	return out
}

func profileByName(n string) (Profile, bool) {
	for _, p := range Profiles {
		if p.Name == n {
			return p, true
		}
	}
	return Profile{}, false
}

func (v Variant) merge(o Variant) Variant {
	v.StringIDs = v.StringIDs || o.StringIDs
	v.HexBusinessIDs = v.HexBusinessIDs || o.HexBusinessIDs
	v.ExtraFields = v.ExtraFields || o.ExtraFields
	v.MissingOptional = v.MissingOptional || o.MissingOptional
	v.CustomChannelObject = v.CustomChannelObject || o.CustomChannelObject
	v.NullLastMessage = v.NullLastMessage || o.NullLastMessage
	v.NoFinalCursor = v.NoFinalCursor || o.NoFinalCursor
	v.NewestFirst = v.NewestFirst || o.NewestFirst
	v.BadDateRatio = max(v.BadDateRatio, o.BadDateRatio)
	v.HTMLErrorRatio = max(v.HTMLErrorRatio, o.HTMLErrorRatio)
	v.HTMLOKRatio = max(v.HTMLOKRatio, o.HTMLOKRatio)
	v.HangRatio = max(v.HangRatio, o.HangRatio)
	v.EmptyGlitchRatio = max(v.EmptyGlitchRatio, o.EmptyGlitchRatio)
	v.NullMessagesRatio = max(v.NullMessagesRatio, o.NullMessagesRatio)
	v.GlitchFor = max(v.GlitchFor, o.GlitchFor)
	v.ShortPageRatio = max(v.ShortPageRatio, o.ShortPageRatio)
	v.CursorIgnoredRatio = max(v.CursorIgnoredRatio, o.CursorIgnoredRatio)
	v.BigContentRatio = max(v.BigContentRatio, o.BigContentRatio)
	v.BigContentBytes = max(v.BigContentBytes, o.BigContentBytes)
	v.NanosecondDateRatio = max(v.NanosecondDateRatio, o.NanosecondDateRatio)
	v.FarDateRatio = max(v.FarDateRatio, o.FarDateRatio)
	v.RetryAfterEpochRatio = max(v.RetryAfterEpochRatio, o.RetryAfterEpochRatio)
	if o.GlitchesPerConversation > 0 && (v.GlitchesPerConversation == 0 || o.GlitchesPerConversation < v.GlitchesPerConversation) {
		v.GlitchesPerConversation = o.GlitchesPerConversation
	}
	return v
}

// field is one key of a JSON object the simulator writes, in order.
type field struct {
	k string
	v any
}

// object is a JSON object with ordered keys, which variants edit before it is written.
type object []field

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := writeValue(&b, o); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeValue writes v as JSON: the few types the simulator renders directly, anything else
// through encoding/json.
func writeValue(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		writeString(b, x)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case object:
		b.WriteByte('{')
		for i, f := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, f.k)
			b.WriteByte(':')
			if err := writeValue(b, f.v); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeValue(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	default:
		j, err := json.Marshal(x)
		if err != nil {
			return err
		}
		b.Write(j)
	}
	return nil
}

func writeString(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			j, _ := json.Marshal(s)
			b.Write(j)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

func (o *object) set(k string, v any) {
	for i := range *o {
		if (*o)[i].k == k {
			(*o)[i].v = v
			return
		}
	}
	*o = append(*o, field{k, v})
}

func (o *object) get(k string) any {
	for _, f := range *o {
		if f.k == k {
			return f.v
		}
	}
	return nil
}

func (o *object) del(k string) {
	for i := range *o {
		if (*o)[i].k == k {
			*o = append((*o)[:i], (*o)[i+1:]...)
			return
		}
	}
}

// dropNulls removes every key whose value is null.
func (o *object) dropNulls() {
	out := (*o)[:0]
	for _, f := range *o {
		if f.v != nil {
			out = append(out, f)
		}
	}
	*o = out
}

// undecodable reports whether the Variant gives message id a date that must never be
// published: one no reader understands (BadDateRatio) or one that is not true (FarDateRatio).
// A fixed draw per message, so a message stays undecodable for good.
func (v Variant) undecodable(seed uint64, messageID int64) bool {
	return v.drawn(seed, messageID, "bad-date", v.BadDateRatio) || v.drawn(seed, messageID, "far-date", v.FarDateRatio)
}

// drawn is a fixed draw per message: true for a share ratio of the messages.
func (v Variant) drawn(seed uint64, messageID int64, what string, ratio float64) bool {
	if ratio <= 0 {
		return false
	}
	h := fnv.New64a()
	if what == "bad-date" {
		fmt.Fprintf(h, "%d:%d", seed, messageID) // the draw BadDateRatio always had
	} else {
		fmt.Fprintf(h, "%d:%d:%s", seed, messageID, what)
	}
	return float64(h.Sum64()%1_000_000)/1_000_000 < ratio
}

// Big reports whether the simulator serves message id with BigContentBytes of content.
func (s *Sim) Big(messageID int64) bool {
	return s.cfg.Variant.drawn(s.cfg.Seed, messageID, "big", s.cfg.Variant.BigContentRatio)
}

// bigContent is a big message's content: the true content padded with 1- to 4-byte runes.
func (v Variant) bigContent(content string) string {
	n := v.BigContentBytes
	if n <= 0 {
		n = 1_500_000
	}
	return content + strings.Repeat("aé€😀", n/10)
}

// id renders an id as the Variant sends it.
func (v Variant) id(n int64) any {
	if v.StringIDs {
		return fmt.Sprint(n)
	}
	return n
}

// businessID renders a business id as the Variant sends it (and as business__in must name it).
func (v Variant) businessID(n int64) any {
	if v.HexBusinessIDs {
		return fmt.Sprintf("5409c35a97bbc544d8e2%04x", n)
	}
	return n
}

func (v Variant) customChannel(kind string, id int64) any {
	if !v.CustomChannelObject {
		return nil
	}
	return object{{"type", "custom"}, {"name", "Shop chat"}, {"metadata", object{{"ref", fmt.Sprintf("%s-%d", kind, id)}, {"flags", []any{1, "two", nil}}}}}
}

// extras are fields a real API may add at any time, of every JSON type.
func extras(kind string, id int64) []field {
	return []field{
		{"extra_" + kind + "_flag", id%2 == 0},
		{"extra_score", float64(id%100) / 7},
		{"extra_tags", []any{"a", 1, nil, object{{"nested", true}}}},
		{"extra_meta", object{{"id", fmt.Sprintf("x%d", id)}, {"when", 1675182137}, {"list", []any{}}}},
		{"extra_null", nil},
		{"extra_text", "ünïcødé ✓"},
	}
}

// message renders a stored message as the Variant sends it.
func (s *Sim) renderMessage(m *storedMessage) object {
	v := s.cfg.Variant
	date := any(m.Date.UTC().Format("2006-01-02 15:04:05.000000-07:00"))
	switch {
	case v.drawn(s.cfg.Seed, m.ID, "bad-date", v.BadDateRatio):
		date = m.Date.UTC().Format("02/01/2006 at 15h04") // no reader understands this
	case v.drawn(s.cfg.Seed, m.ID, "far-date", v.FarDateRatio):
		date = []any{int64(5), "2999-01-01 00:00:00.000000+00:00"}[m.ID%2]
	case v.drawn(s.cfg.Seed, m.ID, "ns-date", v.NanosecondDateRatio):
		date = m.Date.UnixNano()
	}
	content := m.Content
	if v.drawn(s.cfg.Seed, m.ID, "big", v.BigContentRatio) {
		content = v.bigContent(content)
	}
	var user any
	if m.UserID != nil {
		user = *m.UserID
	}
	o := object{
		{"id", v.id(m.ID)}, {"conversation_id", v.id(m.ConversationID)}, {"date", date},
		{"content_type", string(m.ContentType)}, {"sender_type", string(m.SenderType)},
		{"sender_label", m.SenderLabel}, {"status", string(m.Status)}, {"is_deleted", m.IsDeleted},
		{"content", content}, {"user_id", user}, {"custom_channel", v.customChannel("m", m.ID)},
	}
	if v.ExtraFields {
		o = append(o, extras("message", m.ID)...)
	}
	if v.MissingOptional {
		o.dropNulls()
		if m.SenderLabel == "" {
			o.del("sender_label")
		}
		if !m.IsDeleted {
			o.del("is_deleted")
		}
	}
	return o
}

// renderConversation renders a stored conversation, with its last message, as the Variant
// sends it.
func (s *Sim) renderConversation(c *conv) object {
	v := s.cfg.Variant
	var last, first any
	if n := len(c.msgs); n > 0 {
		if !v.NullLastMessage {
			last = s.renderMessage(c.msgs[n-1])
		}
		first = c.msgs[0].Date.UTC().Format("2006-01-02 15:04:05.000000-07:00")
	}
	created := c.CreatedAt.UTC().Format("2006-01-02 15:04:05.000000-07:00")
	business := object{{"id", v.businessID(c.BusinessID)}, {"name", BusinessName(c.BusinessID)},
		{"city", BusinessCity(c.BusinessID)}, {"zipcode", BusinessZipcode(c.BusinessID)}, {"country", "FR"}, {"formatted_address", nil}}
	o := object{
		{"id", v.id(c.ID)}, {"consumer_img", nil}, {"consumer_name", c.ConsumerName},
		{"consumer_phone_number", fmt.Sprintf("+3361%07d", c.ID%10_000_000)},
		{"last_message", last}, {"is_read", false}, {"status", c.Status}, {"created_at", created},
		{"has_one_user_message", c.HasOneUserMessage}, {"business", business},
		{"messaging_partner", string(c.Partner)}, {"issues", []string{}}, {"first_message_date", first},
		{"is_expired", false}, {"is_solved", c.IsSolved}, {"assigned_user_id", nil},
		{"custom_channel", v.customChannel("c", c.ID)},
	}
	if v.ExtraFields {
		// Documented fields with types the documentation does not promise — the kind of
		// change that must never fail a page. Some are published in the conversations table:
		// status (documented as the string Open or Closed) is then Unknown there, with the
		// object's JSON text in status_raw; created_at as epoch seconds is read as a date.
		o.set("created_at", c.CreatedAt.Unix())
		o.set("status", object{{"value", "Open"}, {"since", created}})
		o.set("issues", "late,unanswered")
		o.set("is_read", "no")
		o.set("assigned_user_id", c.ID*7)
		o.set("consumer_img", object{{"url", "https://example.com/a.png"}, {"w", 64}})
		business = append(business, field{"org", object{{"id", "org-1"}, {"plan", 3}}})
		o.set("business", business)
		o = append(o, field{"assigned_user", object{{"id", fmt.Sprintf("u-%d", c.ID%5)}, {"name", "Agent"}}})
		o = append(o, extras("conversation", c.ID)...)
	}
	if v.MissingOptional {
		o.dropNulls()
		if last == nil && !v.NullLastMessage {
			o.del("last_message")
		}
	}
	return o
}

// page renders a page object: the items under key, count, and next_cursor.
func (s *Sim) page(key string, items []any, count int, next string) object {
	o := object{{key, items}, {"count", count}}
	switch {
	case next != "":
		o = append(o, field{"next_cursor", next})
	case !s.cfg.Variant.NoFinalCursor:
		o = append(o, field{"next_cursor", nil})
	}
	return o
}

// businessKey is how business__in names a stored business under the Variant.
func (v Variant) businessKey(n int64) string { return fmt.Sprint(v.businessID(n)) }

// Undecodable reports whether the simulator serves message id with a date no reader
// understands (Variant.BadDateRatio): such a message can never be published.
func (s *Sim) Undecodable(messageID int64) bool {
	return s.cfg.Variant.undecodable(s.cfg.Seed, messageID)
}

// ProfileHelp lists the profiles, one per line, for partoo-sim's usage.
func ProfileHelp() string {
	var b strings.Builder
	for _, p := range Profiles {
		fmt.Fprintf(&b, "  %-22s %s\n", p.Name, p.Doc)
	}
	return b.String()
}
