package server

import (
	"fmt"
	"log/slog"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/configsvc"
	"github.com/shelf-efs/shelf/internal/configsvc/configapi"
	"github.com/shelf-efs/shelf/internal/control"
	"github.com/shelf-efs/shelf/internal/edge"
)

// addConfigService adds the configuration recorder, rules and alerts
// (internal/configsvc) as a component and serves the AWS Config API on the
// edge.
func (s *Server) addConfigService(ctl *control.Service, authz edge.Authorizer, e *edge.Server, log *slog.Logger) error {
	cfg := configsvc.Config{Account: s.account, Region: s.cfg.Region, EvaluationInterval: s.cfg.Compliance.EvaluationInterval}
	for _, v := range s.cfg.Network.VPCs {
		for _, sn := range v.Subnets {
			if sn.Public {
				cfg.PublicSubnets = append(cfg.PublicSubnets, sn.ID)
			}
		}
	}
	for _, w := range s.cfg.Compliance.Webhooks {
		cfg.Webhooks = append(cfg.Webhooks, configsvc.Webhook{URL: w.URL, Secret: []byte(w.Secret)})
	}
	svc, err := configsvc.New(s.meta, ctl, cfg, configsvc.Options{Clock: clock.System,
		Logger: s.log.With("component", "config"), Audit: audit.NewLog(s.meta)})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.components = append(s.components, svc)
	if err := e.Register(configapi.New(svc, authz, s.account, s.cfg.Region, log.With("service", "config"))); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}
