package partoosim

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// ChangeType names a ground-truth change.
type ChangeType string

// Ground-truth change types.
const (
	ChangeCreated       ChangeType = "created"
	ChangeStatusChanged ChangeType = "status_changed"
	ChangeDeleted       ChangeType = "deleted" // is_deleted became true
	ChangeVanished      ChangeType = "vanished"
)

// Change is one entry of the ground-truth log.
type Change struct {
	Seq            int64             `json:"seq"`
	Time           time.Time         `json:"time"`
	Type           ChangeType        `json:"type"`
	ConversationID int64             `json:"conversation_id"`
	MessageID      int64             `json:"message_id"`
	SenderType     model.SenderType  `json:"sender_type"`
	Status         model.Status      `json:"status,omitempty"`
	PreviousStatus model.Status      `json:"previous_status,omitempty"`
	Partner        model.Partner     `json:"messaging_partner"`
	ContentType    model.ContentType `json:"content_type"`
}

// Errors of the mutation methods.
var (
	ErrNoConversation = errors.New("partoosim: no such conversation")
	ErrNoMessage      = errors.New("partoosim: no such message")
)

// Conversation is a simulated conversation's attributes.
type Conversation struct {
	ID           int64         `json:"id"`
	Partner      model.Partner `json:"messaging_partner"`
	BusinessID   int64         `json:"business_id"`
	ConsumerName string        `json:"consumer_name"`
	CreatedAt    time.Time     `json:"created_at"`
	Status       string        `json:"status"` // Open [default] or Closed (CloseConversation)
	IsSolved     bool          `json:"is_solved"`
}

// BusinessName, BusinessCity and BusinessZipcode are what the simulator says of a business.
func BusinessName(id int64) string { return fmt.Sprintf("Business %d", id) }

// BusinessCity is the city of a simulated business.
func BusinessCity(id int64) string {
	return [...]string{"Paris", "Lyon", "Marseille", "Lille", "Nantes"}[(id%5+5)%5]
}

// BusinessZipcode is the zipcode of a simulated business.
func BusinessZipcode(id int64) string { return fmt.Sprintf("%05d", 75000+id%1000) }

// CloseConversation closes a conversation and marks it solved, as an agent does in Partoo:
// its listing changes, its messages do not.
func (s *Sim) CloseConversation(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[id]
	if !ok {
		return ErrNoConversation
	}
	c.Status, c.IsSolved = "Closed", true
	return nil
}

// ConversationOf returns a conversation's attributes.
func (s *Sim) ConversationOf(id int64) (Conversation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[id]
	if !ok {
		return Conversation{}, false
	}
	return c.Conversation, true
}

// storedMessage is a message as the simulator keeps it; the Variant decides how it is sent.
type storedMessage = model.Message

type conv struct {
	Conversation
	HasOneUserMessage bool
	msgs              []*storedMessage // ascending id
	activity          time.Time        // last message created or changed
}

// ConversationSpec describes a conversation to create. Zero values get defaults.
type ConversationSpec struct {
	Partner      model.Partner `json:"messaging_partner"`
	BusinessID   int64         `json:"business_id"`
	ConsumerName string        `json:"consumer_name"`
	CreatedAt    time.Time     `json:"created_at"`
}

// MessageSpec describes a message to add. Zero values get defaults: Consumer, Text, Success,
// the simulator's current time.
type MessageSpec struct {
	ConversationID int64             `json:"conversation_id"`
	SenderType     model.SenderType  `json:"sender_type"`
	ContentType    model.ContentType `json:"content_type"`
	Status         model.Status      `json:"status"`
	Content        string            `json:"content"`
	UserID         *string           `json:"user_id"`
	Date           time.Time         `json:"date"`
}

// CreateConversation adds a conversation and returns it.
func (s *Sim) CreateConversation(spec ConversationSpec) Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createConversation(spec)
}

func (s *Sim) createConversation(spec ConversationSpec) Conversation {
	s.nextConvID++
	id := s.nextConvID
	if spec.Partner == "" {
		spec.Partner = model.PartnerWhatsapp
	}
	if spec.BusinessID == 0 {
		spec.BusinessID = 1
	}
	if spec.ConsumerName == "" {
		spec.ConsumerName = fmt.Sprintf("Consumer %d", id)
	}
	if spec.CreatedAt.IsZero() {
		spec.CreatedAt = s.clock.Now()
	}
	c := &conv{
		Conversation: Conversation{ID: id, Partner: spec.Partner, BusinessID: spec.BusinessID, Status: "Open",
			ConsumerName: spec.ConsumerName, CreatedAt: spec.CreatedAt.UTC().Truncate(time.Microsecond)},
		activity: spec.CreatedAt,
	}
	s.convs[id] = c
	return c.Conversation
}

// AddMessage appends a message to a conversation and logs it as created.
func (s *Sim) AddMessage(spec MessageSpec) (model.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addMessage(spec)
}

func (s *Sim) addMessage(spec MessageSpec) (model.Message, error) {
	c, ok := s.convs[spec.ConversationID]
	if !ok {
		return model.Message{}, ErrNoConversation
	}
	if spec.SenderType == "" {
		spec.SenderType = model.SenderConsumer
	}
	if spec.ContentType == "" {
		spec.ContentType = model.ContentText
	}
	if spec.Status == "" {
		spec.Status = model.StatusSuccess
	}
	if spec.Date.IsZero() {
		spec.Date = s.clock.Now()
	}
	spec.Date = spec.Date.UTC().Truncate(time.Microsecond)
	s.nextMsgID++
	m := &model.Message{
		ID:             s.nextMsgID,
		ConversationID: c.ID,
		Date:           model.Time{Time: spec.Date},
		ContentType:    spec.ContentType,
		SenderType:     spec.SenderType,
		SenderLabel:    senderLabel(spec.SenderType, c),
		Status:         spec.Status,
		Content:        spec.Content,
		UserID:         spec.UserID,
	}
	c.msgs = append(c.msgs, m)
	s.msgs[m.ID] = c
	if spec.Date.After(c.activity) {
		c.activity = spec.Date
	}
	if spec.SenderType == model.SenderUser {
		c.HasOneUserMessage = true
	}
	s.log(spec.Date, ChangeCreated, c, m, "")
	return *m, nil
}

func senderLabel(t model.SenderType, c *conv) string {
	switch t {
	case model.SenderConsumer:
		return c.ConsumerName
	case model.SenderUser:
		return "Agent"
	default:
		return string(t)
	}
}

// SetStatus changes a message's status and logs the change; setting the current status is a
// no-op.
func (s *Sim) SetStatus(messageID int64, status model.Status) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setStatus(messageID, status)
}

func (s *Sim) setStatus(messageID int64, status model.Status) error {
	c, m := s.find(messageID)
	if m == nil {
		return ErrNoMessage
	}
	if m.Status == status {
		return nil
	}
	prev := m.Status
	m.Status = status
	now := s.clock.Now()
	c.activity = now
	s.log(now, ChangeStatusChanged, c, m, prev)
	return nil
}

// DeleteMessage marks a message deleted by the consumer (is_deleted=true, content emptied).
func (s *Sim) DeleteMessage(messageID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteMessage(messageID)
}

func (s *Sim) deleteMessage(messageID int64) error {
	return s.deleteMessageAt(messageID, s.clock.Now())
}

// deleteMessageAt deletes a message at a given time: Populate dates its deletions in the
// history, so they do not move old conversations to the top of the listing.
func (s *Sim) deleteMessageAt(messageID int64, now time.Time) error {
	c, m := s.find(messageID)
	if m == nil {
		return ErrNoMessage
	}
	if m.IsDeleted {
		return nil
	}
	m.IsDeleted = true
	m.Content = ""
	if now.After(c.activity) {
		c.activity = now
	}
	s.log(now, ChangeDeleted, c, m, "")
	return nil
}

// VanishMessage removes a message from the API entirely, as if Partoo dropped it.
func (s *Sim) VanishMessage(messageID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, m := s.find(messageID)
	if m == nil {
		return ErrNoMessage
	}
	i := sort.Search(len(c.msgs), func(i int) bool { return c.msgs[i].ID >= messageID })
	c.msgs = append(c.msgs[:i], c.msgs[i+1:]...)
	delete(s.msgs, messageID)
	s.log(s.clock.Now(), ChangeVanished, c, m, "")
	return nil
}

func (s *Sim) find(messageID int64) (*conv, *model.Message) {
	c, ok := s.msgs[messageID]
	if !ok {
		return nil, nil
	}
	i := sort.Search(len(c.msgs), func(i int) bool { return c.msgs[i].ID >= messageID })
	if i < len(c.msgs) && c.msgs[i].ID == messageID {
		return c, c.msgs[i]
	}
	return nil, nil
}

// Message returns a copy of a message as the API would serve it.
func (s *Sim) Message(messageID int64) (model.Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m := s.find(messageID)
	if m == nil {
		return model.Message{}, false
	}
	return *m, true
}

func (s *Sim) log(t time.Time, typ ChangeType, c *conv, m *model.Message, prev model.Status) {
	defer func() {
		if s.onChange != nil {
			s.onChange(s.changes[len(s.changes)-1])
		}
	}()
	s.changes = append(s.changes, Change{
		Seq: int64(len(s.changes)) + 1, Time: t, Type: typ,
		ConversationID: c.ID, MessageID: m.ID, SenderType: m.SenderType,
		Status: m.Status, PreviousStatus: prev, Partner: c.Partner, ContentType: m.ContentType,
	})
}

// Changes returns the ground-truth log entries with Seq > since.
func (s *Sim) Changes(since int64) []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	if since < 0 {
		since = 0
	}
	if since >= int64(len(s.changes)) {
		return nil
	}
	return append([]Change(nil), s.changes[since:]...)
}

// ConversationIDs returns every conversation id, ascending.
func (s *Sim) ConversationIDs() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.convs))
	for id := range s.convs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Messages returns a copy of a conversation's messages, as GET /messages would walk them.
func (s *Sim) Messages(conversationID int64) []model.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[conversationID]
	if !ok {
		return nil
	}
	out := make([]model.Message, len(c.msgs))
	for i, m := range c.msgs {
		out[i] = *m
	}
	return out
}

// Conversation returns a conversation's attributes.
func (s *Sim) Conversation(id int64) (Conversation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[id]
	if !ok {
		return Conversation{}, false
	}
	return c.Conversation, true
}
