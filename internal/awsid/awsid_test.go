package awsid

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValid(t *testing.T) {
	for _, s := range []string{"123456789012", "000000000000"} {
		require.True(t, ValidAccount(s), s)
	}
	for _, s := range []string{"", "12345678901", "1234567890123", "12345678901a", "-23456789012"} {
		require.False(t, ValidAccount(s), s)
	}
	for _, s := range []string{"us-east-1", "eu-central-2", "us-gov-west-1", "local-1"} {
		require.True(t, ValidRegion(s), s)
	}
	for _, s := range []string{"", "US-EAST-1", "us--east-1", "-us-east-1", "us-east-1-", "us_east_1", "a123456789012345678901234567890123"} {
		require.False(t, ValidRegion(s), s)
	}
	for _, s := range []string{"fs-0123abcd", "fs-0123456789abcdef0"} {
		require.True(t, ValidResource(s, "fs-"), s)
	}
	for _, s := range []string{"fs-0123ABCD", "fs-0123abc", "fsmt-0123abcd", "fs-0123456789abcdef", "fs-"} {
		require.False(t, ValidResource(s, "fs-"), s)
	}
}
