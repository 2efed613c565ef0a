package ec2api

import (
	"net/http"

	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/edge"
)

// MapCodeForTest exposes the control-error mapping.
func MapCodeForTest(s *Service, c control.Code) *edge.APIError {
	c2 := &call{edge: &edge.Call{RequestID: "t"}}
	e := s.controlError(c2, &control.Error{Code: c, Message: "cause-detail"})
	if e.Status == 0 {
		e.Status = http.StatusBadRequest
	}
	return e
}
