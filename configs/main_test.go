package configs

import (
	"os"
	"testing"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/log"
)

func TestMain(m *testing.M) {
	// Tests that check log output install their own logger; keep the rest quiet.
	log.Logger = zerolog.Nop()
	os.Exit(m.Run())
}
