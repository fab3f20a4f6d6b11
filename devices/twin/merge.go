package twin

// MergePatch applies an RFC 7396 JSON merge patch to target and returns the
// result. Values are as encoding/json decodes them into any. target is not
// modified: objects on the changed path are copied.
func MergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch // RFC 7396 §2: a non-object patch replaces the target
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	out := make(map[string]any, len(t)+len(p))
	for k, v := range t {
		out[k] = v
	}
	for k, v := range p {
		if v == nil {
			delete(out, k) // null removes the member
			continue
		}
		out[k] = MergePatch(out[k], v)
	}
	return out
}
