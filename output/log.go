package output

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/kinesis-agg/kinesis_agg/conf"
)

// Logger writes Fluent Bit style lines to stderr:
//
//	[2026/11/25 18:43:53] [ warn] [output:kinesis_agg:kinesis_agg.0] message
type Logger struct {
	prefix string
	level  conf.LogLevel
	mu     sync.Mutex
	w      io.Writer
}

// NewLogger returns a logger for the named instance at the given level, writing to w (nil:
// stderr).
func NewLogger(instance string, level conf.LogLevel, w io.Writer) *Logger {
	if w == nil {
		w = os.Stderr
	}
	return &Logger{prefix: "[output:kinesis_agg:" + instance + "] ", level: level, w: w}
}

var levelTags = [...]string{conf.LogError: "error", conf.LogWarn: " warn", conf.LogInfo: " info", conf.LogDebug: "debug"}

// Logf logs at level l.
func (lg *Logger) Logf(l conf.LogLevel, format string, args ...any) {
	if lg == nil || !lg.level.Enabled(l) {
		return
	}
	msg := fmt.Sprintf(format, args...)
	now := time.Now().Format("2006/01/02 15:04:05")
	lg.mu.Lock()
	defer lg.mu.Unlock()
	fmt.Fprintf(lg.w, "[%s] [%s] %s%s\n", now, levelTags[l], lg.prefix, msg)
}

// Enabled reports whether messages at level l are written.
func (lg *Logger) Enabled(l conf.LogLevel) bool { return lg != nil && lg.level.Enabled(l) }

// Errorf logs at error level.
func (lg *Logger) Errorf(format string, args ...any) { lg.Logf(conf.LogError, format, args...) }

// Warnf logs at warn level.
func (lg *Logger) Warnf(format string, args ...any) { lg.Logf(conf.LogWarn, format, args...) }

// Infof logs at info level.
func (lg *Logger) Infof(format string, args ...any) { lg.Logf(conf.LogInfo, format, args...) }

// Debugf logs at debug level.
func (lg *Logger) Debugf(format string, args ...any) { lg.Logf(conf.LogDebug, format, args...) }
