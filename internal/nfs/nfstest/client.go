package nfstest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/buildbarn/go-xdr/pkg/protocols/nfsv4"
)

// Client is an NFSv4 client of one server. It is not safe for concurrent
// use.
type Client struct {
	T     Transport
	Minor uint32
	Tag   string

	// Owner and Verifier identify the client (co_ownerid and co_verifier,
	// or nfs_client_id4).
	Owner    []byte
	Verifier [8]byte

	// ClientID is set by Mount.
	ClientID uint64
	// Session and SlotSeqids are the NFSv4.1 session: the last sequence
	// ID sent on each slot.
	Session    nfsv4.Sessionid4
	SlotSeqids []uint32
	// ForeChannel holds the negotiated fore-channel attributes.
	ForeChannel nfsv4.ChannelAttrs4

	// csSeq is the sequence ID of the next CREATE_SESSION.
	csSeq uint32
	// ownerSeqids are the NFSv4.0 seqids of open and lock owners.
	ownerSeqids map[string]uint32
}

// New returns a client speaking minor version minor, identified by owner.
func New(t Transport, minor uint32, owner string) *Client {
	c := &Client{T: t, Minor: minor, Owner: []byte(owner), ownerSeqids: map[string]uint32{}}
	copy(c.Verifier[:], "nfstest1")
	return c
}

// Encode returns the wire form of a COMPOUND.
func Encode(args *nfsv4.Compound4args) []byte {
	var b bytes.Buffer
	b.Grow(args.GetEncodedSizeBytes())
	if _, err := args.WriteTo(&b); err != nil {
		panic(fmt.Sprintf("nfstest: encode COMPOUND: %v", err))
	}
	return b.Bytes()
}

// Decode parses a COMPOUND reply.
func Decode(b []byte) (*nfsv4.Compound4res, error) {
	var res nfsv4.Compound4res
	r := bytes.NewReader(b)
	if _, err := res.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("nfstest: decode COMPOUND4res: %w", err)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("nfstest: %d bytes after COMPOUND4res", r.Len())
	}
	return &res, nil
}

// Null calls the NULL procedure.
func (c *Client) Null(ctx context.Context) error {
	_, err := c.T.Call(ctx, 0, nil)
	return err
}

// Raw sends encoded COMPOUND arguments and returns the encoded reply.
func (c *Client) Raw(ctx context.Context, args []byte) ([]byte, error) {
	return c.T.Call(ctx, 1, args)
}

// Compound sends ops in a COMPOUND of the client's minor version, as is.
func (c *Client) Compound(ctx context.Context, ops ...nfsv4.NfsArgop4) (*nfsv4.Compound4res, error) {
	b, err := c.Raw(ctx, Encode(&nfsv4.Compound4args{Tag: c.Tag, Minorversion: c.Minor, Argarray: ops}))
	if err != nil {
		return nil, err
	}
	return Decode(b)
}

// Sequence returns a SEQUENCE operation for slot with the given seqid.
func (c *Client) Sequence(slot, seqid uint32, cacheThis bool) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_SEQUENCE{Opsequence: nfsv4.Sequence4args{SaSessionid: c.Session,
		SaSequenceid: seqid, SaSlotid: slot, SaHighestSlotid: uint32(max(len(c.SlotSeqids), 1) - 1), SaCachethis: cacheThis}}
}

// Do sends ops: in NFSv4.1 after a SEQUENCE on slot 0 (whose seqid it
// advances when the SEQUENCE succeeds), in NFSv4.0 as they are.
func (c *Client) Do(ctx context.Context, ops ...nfsv4.NfsArgop4) (*nfsv4.Compound4res, error) {
	if c.Minor == 0 {
		return c.Compound(ctx, ops...)
	}
	return c.DoSlot(ctx, 0, ops...)
}

// DoSlot is Do on a given slot.
func (c *Client) DoSlot(ctx context.Context, slot uint32, ops ...nfsv4.NfsArgop4) (*nfsv4.Compound4res, error) {
	for int(slot) >= len(c.SlotSeqids) {
		c.SlotSeqids = append(c.SlotSeqids, 0)
	}
	seqid := c.SlotSeqids[slot] + 1
	res, err := c.Compound(ctx, append([]nfsv4.NfsArgop4{c.Sequence(slot, seqid, false)}, ops...)...)
	if err != nil {
		return nil, err
	}
	if len(res.Resarray) > 0 && Status(res.Resarray[0]) == nfsv4.NFS4_OK {
		c.SlotSeqids[slot] = seqid
	}
	return res, nil
}

// Mount establishes the client: EXCHANGE_ID, CREATE_SESSION and
// RECLAIM_COMPLETE in NFSv4.1, SETCLIENTID and SETCLIENTID_CONFIRM in 4.0.
func (c *Client) Mount(ctx context.Context) error {
	if c.Minor == 0 {
		return c.SetClientID(ctx)
	}
	if err := c.ExchangeID(ctx); err != nil {
		return err
	}
	if err := c.CreateSession(ctx, 1); err != nil {
		return err
	}
	res, err := c.Do(ctx, &nfsv4.NfsArgop4_OP_RECLAIM_COMPLETE{})
	return check(res, err)
}

// ExchangeID sends EXCHANGE_ID and keeps the client ID.
func (c *Client) ExchangeID(ctx context.Context) error {
	res, err := c.Compound(ctx, &nfsv4.NfsArgop4_OP_EXCHANGE_ID{OpexchangeId: nfsv4.ExchangeId4args{
		EiaClientowner:  nfsv4.ClientOwner4{CoVerifier: c.Verifier, CoOwnerid: c.Owner},
		EiaStateProtect: &nfsv4.StateProtect4A_SP4_NONE{},
	}})
	if err := check(res, err); err != nil {
		return err
	}
	ok := res.Resarray[0].(*nfsv4.NfsResop4_OP_EXCHANGE_ID).OpexchangeId.(*nfsv4.ExchangeId4res_NFS4_OK)
	c.ClientID = ok.EirResok4.EirClientid
	c.csSeq = ok.EirResok4.EirSequenceid
	return nil
}

// CreateSession creates a session with slots slots.
func (c *Client) CreateSession(ctx context.Context, slots uint32) error {
	res, err := c.Compound(ctx, c.CreateSessionOp(slots))
	if err := check(res, err); err != nil {
		return err
	}
	ok := res.Resarray[0].(*nfsv4.NfsResop4_OP_CREATE_SESSION).OpcreateSession.(*nfsv4.CreateSession4res_NFS4_OK)
	c.csSeq++
	c.Session = ok.CsrResok4.CsrSessionid
	c.ForeChannel = ok.CsrResok4.CsrForeChanAttrs
	c.SlotSeqids = make([]uint32, ok.CsrResok4.CsrForeChanAttrs.CaMaxrequests)
	return nil
}

// CreateSessionOp returns the CREATE_SESSION the client would send next,
// with the limits Linux asks for.
func (c *Client) CreateSessionOp(slots uint32) nfsv4.NfsArgop4 {
	return &nfsv4.NfsArgop4_OP_CREATE_SESSION{OpcreateSession: nfsv4.CreateSession4args{
		CsaClientid: c.ClientID,
		CsaSequence: c.csSeq,
		CsaFlags:    nfsv4.CREATE_SESSION4_FLAG_CONN_BACK_CHAN,
		CsaForeChanAttrs: nfsv4.ChannelAttrs4{CaMaxrequestsize: 1<<20 + 4096, CaMaxresponsesize: 1<<20 + 4096,
			CaMaxoperations: 16, CaMaxrequests: slots},
		CsaBackChanAttrs: nfsv4.ChannelAttrs4{CaMaxrequestsize: 4096, CaMaxresponsesize: 4096,
			CaMaxoperations: 2, CaMaxrequests: 1},
		CsaCbProgram: 0x40000000,
		CsaSecParms:  []nfsv4.CallbackSecParms4{&nfsv4.CallbackSecParms4_AUTH_NONE{}},
	}}
}

// SetClientID establishes an NFSv4.0 client ID.
func (c *Client) SetClientID(ctx context.Context) error {
	res, err := c.Compound(ctx, &nfsv4.NfsArgop4_OP_SETCLIENTID{Opsetclientid: nfsv4.Setclientid4args{
		Client:   nfsv4.NfsClientId4{Verifier: c.Verifier, Id: c.Owner},
		Callback: nfsv4.CbClient4{CbProgram: 0x40000000, CbLocation: nfsv4.Netaddr4{NaRNetid: "tcp", NaRAddr: "127.0.0.1.3.4"}},
	}})
	if err := check(res, err); err != nil {
		return err
	}
	ok := res.Resarray[0].(*nfsv4.NfsResop4_OP_SETCLIENTID).Opsetclientid.(*nfsv4.Setclientid4res_NFS4_OK)
	c.ClientID = ok.Resok4.Clientid
	res, err = c.Compound(ctx, &nfsv4.NfsArgop4_OP_SETCLIENTID_CONFIRM{OpsetclientidConfirm: nfsv4.SetclientidConfirm4args{
		Clientid: c.ClientID, SetclientidConfirm: ok.Resok4.SetclientidConfirm}})
	return check(res, err)
}

// NextSeqid returns the seqid to send for NFSv4.0 owner and advances it.
// Tests that expect a failure that does not consume the seqid call
// UndoSeqid.
func (c *Client) NextSeqid(owner string) uint32 {
	c.ownerSeqids[owner]++
	return c.ownerSeqids[owner]
}

// UndoSeqid steps owner's seqid back.
func (c *Client) UndoSeqid(owner string) { c.ownerSeqids[owner]-- }

// SetSeqid sets owner's last seqid.
func (c *Client) SetSeqid(owner string, seqid uint32) { c.ownerSeqids[owner] = seqid }

// StatusError is a COMPOUND that failed.
type StatusError struct {
	Status nfsv4.Nfsstat4
	Op     int // index of the failing operation
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("nfstest: %s at operation %d", nfsv4.Nfsstat4_name[e.Status], e.Op)
}

// check turns a failed COMPOUND into a *StatusError.
func check(res *nfsv4.Compound4res, err error) error {
	if err != nil {
		return err
	}
	if res.Status != nfsv4.NFS4_OK {
		return &StatusError{Status: res.Status, Op: len(res.Resarray) - 1}
	}
	return nil
}

// Check returns an error for a failed COMPOUND.
func Check(res *nfsv4.Compound4res, err error) error { return check(res, err) }

// Status returns the status of an operation result: every NFSv4 result
// starts with the operation number and then its status.
func Status(r nfsv4.NfsResop4) nfsv4.Nfsstat4 {
	var b bytes.Buffer
	if _, err := r.WriteTo(&b); err != nil || b.Len() < 8 {
		return -1
	}
	return nfsv4.Nfsstat4(binary.BigEndian.Uint32(b.Bytes()[4:]))
}

// Op returns the operation number of a result.
func Op(r nfsv4.NfsResop4) nfsv4.NfsOpnum4 {
	var b bytes.Buffer
	if _, err := r.WriteTo(&b); err != nil || b.Len() < 4 {
		return -1
	}
	return nfsv4.NfsOpnum4(binary.BigEndian.Uint32(b.Bytes()))
}

// Last returns the last result of a COMPOUND.
func Last(res *nfsv4.Compound4res) nfsv4.NfsResop4 {
	if len(res.Resarray) == 0 {
		return nil
	}
	return res.Resarray[len(res.Resarray)-1]
}

// FH returns the handle of the last successful GETFH in res.
func FH(res *nfsv4.Compound4res) []byte {
	for i := len(res.Resarray) - 1; i >= 0; i-- {
		if r, ok := res.Resarray[i].(*nfsv4.NfsResop4_OP_GETFH); ok {
			if ok, isOK := r.Opgetfh.(*nfsv4.Getfh4res_NFS4_OK); isOK {
				return ok.Resok4.Object
			}
		}
	}
	return nil
}

// Find returns the first result of type T in res.
func Find[T nfsv4.NfsResop4](res *nfsv4.Compound4res) (T, bool) {
	for _, r := range res.Resarray {
		if t, ok := r.(T); ok {
			return t, true
		}
	}
	var zero T
	return zero, false
}
