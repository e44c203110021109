package model

// ContentType is a message's content_type. Partoo may add values without notice: any string
// decodes, and Known reports whether it is one documented here.
type ContentType string

// Documented content types.
const (
	ContentText           ContentType = "Text"
	ContentImage          ContentType = "Image"
	ContentVideo          ContentType = "Video"
	ContentAudio          ContentType = "Audio"
	ContentDocument       ContentType = "Document"
	ContentIgStoryReply   ContentType = "IgStoryReply"
	ContentIgStoryMention ContentType = "IgStoryMention"
	ContentUnsupported    ContentType = "Unsupported"
)

// Known reports whether c is a documented content type.
func (c ContentType) Known() bool {
	switch c {
	case ContentText, ContentImage, ContentVideo, ContentAudio, ContentDocument,
		ContentIgStoryReply, ContentIgStoryMention, ContentUnsupported:
		return true
	}
	return false
}

// SenderType is a message's sender_type. Partoo advises ignoring messages whose sender_type
// is unknown; Known tells them apart.
type SenderType string

// Documented sender types.
const (
	SenderUser     SenderType = "User"
	SenderConsumer SenderType = "Consumer"
	SenderMetadata SenderType = "Metadata"
)

// Known reports whether s is a documented sender type.
func (s SenderType) Known() bool {
	return s == SenderUser || s == SenderConsumer || s == SenderMetadata
}

// Status is a message's delivery status: Sending, then Success or Failed; a Failed message can
// be retried (Failed → Sending → Success).
type Status string

// Documented statuses.
const (
	StatusSending Status = "Sending"
	StatusSuccess Status = "Success"
	StatusFailed  Status = "Failed"
)

// Known reports whether s is a documented status.
func (s Status) Known() bool { return s == StatusSending || s == StatusSuccess || s == StatusFailed }

// Terminal reports whether no further change is expected without a retry (Success or Failed).
func (s Status) Terminal() bool { return s == StatusSuccess || s == StatusFailed }

// Partner is a conversation's messaging_partner (channel). New values may appear.
type Partner string

// Documented messaging partners.
const (
	PartnerGoogle    Partner = "Google"
	PartnerFacebook  Partner = "Facebook"
	PartnerInstagram Partner = "Instagram"
	PartnerSMS       Partner = "SMS"
	PartnerWhatsapp  Partner = "Whatsapp"
)

// Known reports whether p is a documented messaging partner.
func (p Partner) Known() bool {
	switch p {
	case PartnerGoogle, PartnerFacebook, PartnerInstagram, PartnerSMS, PartnerWhatsapp:
		return true
	}
	return false
}
