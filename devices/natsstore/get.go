package natsstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// getLatest reads a key's latest value and KV revision from the stream's
// leader (0 and nil: no such key). KeyValue.Get may be answered by any
// replica (direct get), and a follower that lags answers with a value and a
// revision already replaced; a compare-and-set loop that reads there can
// lose, again and again, to a write it cannot see. The leader answers
// with every acknowledged write.
func (s *Store) getLatest(ctx context.Context, bucket, key string) ([]byte, uint64, error) {
	ctx, cancel := s.request(ctx)
	defer cancel()
	req, err := json.Marshal(struct {
		LastFor string `json:"last_by_subj"`
	}{"$KV." + bucket + "." + key})
	if err != nil {
		return nil, 0, err
	}
	msg, err := s.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s in %s: %w", key, bucket, err)
	}
	var resp struct {
		Message *struct {
			Seq    uint64 `json:"seq"`
			Data   []byte `json:"data"`
			Header []byte `json:"hdrs"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, 0, fmt.Errorf("reading %s in %s: %w", key, bucket, err)
	}
	if resp.Error != nil {
		if resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return nil, 0, nil
		}
		return nil, 0, fmt.Errorf("reading %s in %s: %w", key, bucket, resp.Error)
	}
	if resp.Message == nil {
		return nil, 0, fmt.Errorf("reading %s in %s: empty answer", key, bucket)
	}
	// A delete or purge marker: the key is gone (this store deletes none,
	// but an operator may).
	if bytes.Contains(resp.Message.Header, []byte("KV-Operation")) {
		return nil, resp.Message.Seq, nil
	}
	if resp.Message.Data == nil {
		resp.Message.Data = []byte{}
	}
	return resp.Message.Data, resp.Message.Seq, nil
}
