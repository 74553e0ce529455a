// Package strftime formats times with C strftime(3) layouts, as Fluent Bit users write them in
// settings such as time_key_format, plus Fluent Bit's %L (milliseconds) and %f (microseconds).
//
// A layout is compiled once (Compile reports unknown directives) and then formats any number of
// times without allocating. Names (%a %A %b %B %p %c) are those of the C/POSIX locale.
//
// Supported directives:
//
//	%Y year (at least 4 digits)     %C century (2 digits)         %y year in century (00-99)
//	%G ISO 8601 week-based year     %g its last 2 digits          %V ISO 8601 week (01-53)
//	%m month (01-12)                %b %h abbreviated month name  %B full month name
//	%d day of month (01-31)         %e day of month, space-padded %j day of year (001-366)
//	%a abbreviated weekday name     %A full weekday name          %u weekday 1-7 (Monday=1)
//	%w weekday 0-6 (Sunday=0)       %U week of year, Sunday first %W week of year, Monday first
//	%H hour (00-23)                 %k hour, space-padded         %I hour (01-12)
//	%l hour (1-12), space-padded    %M minute (00-59)             %S second (00-60)
//	%p AM or PM                     %P am or pm                   %s seconds since the Unix epoch
//	%L milliseconds (000-999)       %f microseconds (000000-999999)
//	%N nanoseconds (000000000-999999999)
//	%1N ... %9N the first 1 to 9 digits of the nanoseconds (%3N = %L, %6N = %f, %9N = %N), as
//	   in Fluent Bit's AWS outputs
//	%z UTC offset +hhmm             %Z time zone abbreviation     %% a literal %
//	%n newline                      %t tab
//	%F = %Y-%m-%d   %T = %H:%M:%S   %D = %m/%d/%y   %R = %H:%M   %r = %I:%M:%S %p
//	%c = %a %b %e %H:%M:%S %Y       %x = %m/%d/%y   %X = %H:%M:%S
//
// Flags and field widths (%-d, %03d, %Ez ...) are not supported and are reported as errors, so a
// layout never silently formats something other than what its author meant.
package strftime

import (
	"fmt"
	"strconv"
	"time"
)

// Layout is a compiled strftime layout. It is immutable and safe for concurrent use.
type Layout struct {
	src  string
	ops  []op
	lits string // literal text referenced by ops
	// need says which calendar fields AppendFormat must compute, so a layout like "%s" does
	// not pay for them.
	need need
}

type need uint8

const (
	needDate need = 1 << iota
	needYday
	needWday
	needClock
)

// op is one step of a compiled layout: either a directive or a run of literal bytes lits[a:b].
type op struct {
	dir  byte // directive letter, or 0 for a literal
	a, b int32
}

// expansions maps composite directives to the layouts they stand for.
var expansions = [256]string{
	'F': "%Y-%m-%d",
	'T': "%H:%M:%S",
	'D': "%m/%d/%y",
	'R': "%H:%M",
	'r': "%I:%M:%S %p",
	'c': "%a %b %e %H:%M:%S %Y",
	'x': "%m/%d/%y",
	'X': "%H:%M:%S",
	'h': "%b",
	'n': "\n",
	't': "\t",
	'%': "%",
}

// known marks the simple directives; dirNeed says which calendar fields each one uses.
var (
	known = [256]bool{
		'Y': true, 'C': true, 'y': true, 'G': true, 'g': true, 'V': true, 'm': true, 'b': true,
		'B': true, 'd': true, 'e': true, 'j': true, 'a': true, 'A': true, 'u': true, 'w': true,
		'U': true, 'W': true, 'H': true, 'k': true, 'I': true, 'l': true, 'M': true, 'S': true,
		'p': true, 'P': true, 's': true, 'L': true, 'f': true, 'N': true, 'z': true, 'Z': true,
	}
	dirNeed = [256]need{
		'Y': needDate, 'C': needDate, 'y': needDate, 'm': needDate, 'b': needDate, 'B': needDate,
		'd': needDate, 'e': needDate, 'j': needYday, 'a': needWday, 'A': needWday, 'u': needWday,
		'w': needWday, 'U': needYday | needWday, 'W': needYday | needWday,
		'H': needClock, 'k': needClock, 'I': needClock, 'l': needClock, 'M': needClock,
		'S': needClock, 'p': needClock, 'P': needClock,
	}
)

// maxLayout bounds a layout's length; composite directives expand at most 8-fold, so literal
// offsets stay well inside int32.
const maxLayout = 1 << 20

// Compile parses a strftime layout. The error names the first unsupported directive.
func Compile(layout string) (*Layout, error) {
	l := &Layout{src: layout}
	var lits []byte
	addLit := func(s string) {
		if s == "" {
			return
		}
		if n := len(l.ops); n > 0 && l.ops[n-1].dir == 0 && int(l.ops[n-1].b) == len(lits) {
			lits = append(lits, s...)
			l.ops[n-1].b = int32(len(lits))
			return
		}
		a := len(lits)
		lits = append(lits, s...)
		l.ops = append(l.ops, op{a: int32(a), b: int32(len(lits))})
	}
	var compile func(s string) error
	compile = func(s string) error {
		start := 0
		for i := 0; i < len(s); i++ {
			if s[i] != '%' {
				continue
			}
			addLit(s[start:i])
			if i+1 >= len(s) {
				return fmt.Errorf("strftime: dangling %% at the end of %q", layout)
			}
			c := s[i+1]
			switch {
			case c >= '1' && c <= '9' && i+2 < len(s) && s[i+2] == 'N':
				// %3N, %6N, %9N ... as in Fluent Bit's AWS outputs: the first c digits of the
				// nanoseconds.
				l.ops = append(l.ops, op{dir: '#', a: int32(c - '0')})
				i += 2
				start = i + 1
				continue
			case c >= '1' && c <= '9' && i+2 < len(s):
				return fmt.Errorf("strftime: unknown directive %s in %q", directiveText(s, i, 2), layout)
			case expansions[c] != "":
				if c == '%' || c == 'n' || c == 't' {
					addLit(expansions[c])
				} else if err := compile(expansions[c]); err != nil {
					return err
				}
			case known[c]:
				l.need |= dirNeed[c]
				l.ops = append(l.ops, op{dir: c})
			default:
				return fmt.Errorf("strftime: unknown directive %s in %q", directiveText(s, i, 1), layout)
			}
			i++
			start = i + 1
		}
		addLit(s[start:])
		return nil
	}
	if len(layout) > maxLayout {
		return nil, fmt.Errorf("strftime: layout of %d bytes is too long (max %d)", len(layout), maxLayout)
	}
	if err := compile(layout); err != nil {
		return nil, err
	}
	l.lits = string(lits)
	return l, nil
}

// directiveText returns the directive starting at s[i]: '%' and the next n characters (which may
// be multi-byte UTF-8 sequences), for error messages.
func directiveText(s string, i, n int) string {
	j := i + 1
	for ; n > 0 && j < len(s); n-- {
		j++
		for j < len(s) && s[j]&0xC0 == 0x80 {
			j++
		}
	}
	return s[i:j]
}

// MustCompile is like Compile but panics on error. It is meant for layouts written in code.
func MustCompile(layout string) *Layout {
	l, err := Compile(layout)
	if err != nil {
		panic(err)
	}
	return l
}

// String returns the layout's source text.
func (l *Layout) String() string { return l.src }

var (
	shortMonths = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	longMonths  = [12]string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}
	shortDays = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays  = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

// AppendFormat appends t formatted by l to dst and returns the extended buffer. It does not
// allocate beyond growing dst. t is formatted in its own location; call t.UTC() first for UTC.
func (l *Layout) AppendFormat(dst []byte, t time.Time) []byte {
	var (
		year, day, yday int
		month           time.Month
		wday            time.Weekday
		hour, min, sec  int
	)
	if l.need&needDate != 0 {
		year, month, day = t.Date()
	}
	if l.need&needYday != 0 {
		yday = t.YearDay()
	}
	if l.need&needWday != 0 {
		wday = t.Weekday()
	}
	if l.need&needClock != 0 {
		hour, min, sec = t.Clock()
	}
	for _, o := range l.ops {
		switch o.dir {
		case 0:
			dst = append(dst, l.lits[o.a:o.b]...)
		case 'Y':
			if year >= 0 && year <= 9999 {
				dst = append4(dst, year)
			} else {
				dst = strconv.AppendInt(dst, int64(year), 10)
			}
		case 'C':
			if c := floorDiv(year, 100); c >= 0 && c <= 99 {
				dst = append2(dst, c)
			} else {
				dst = strconv.AppendInt(dst, int64(c), 10)
			}
		case 'y':
			dst = append2(dst, floorMod(year, 100))
		case 'G':
			y, _ := t.ISOWeek()
			if y >= 0 && y <= 9999 {
				dst = append4(dst, y)
			} else {
				dst = strconv.AppendInt(dst, int64(y), 10)
			}
		case 'g':
			y, _ := t.ISOWeek()
			dst = append2(dst, floorMod(y, 100))
		case 'V':
			_, w := t.ISOWeek()
			dst = append2(dst, w)
		case 'm':
			dst = append2(dst, int(month))
		case 'b':
			dst = append(dst, shortMonths[month-1]...)
		case 'B':
			dst = append(dst, longMonths[month-1]...)
		case 'd':
			dst = append2(dst, day)
		case 'e':
			dst = appendSpace2(dst, day)
		case 'j':
			dst = append(dst, byte('0'+yday/100), byte('0'+yday/10%10), byte('0'+yday%10))
		case 'a':
			dst = append(dst, shortDays[wday]...)
		case 'A':
			dst = append(dst, longDays[wday]...)
		case 'u':
			u := int(wday)
			if u == 0 {
				u = 7
			}
			dst = append(dst, byte('0'+u))
		case 'w':
			dst = append(dst, byte('0'+int(wday)))
		case 'U':
			dst = append2(dst, (yday-1+7-int(wday))/7)
		case 'W':
			dst = append2(dst, (yday-1+7-(int(wday)+6)%7)/7)
		case 'H':
			dst = append2(dst, hour)
		case 'k':
			dst = appendSpace2(dst, hour)
		case 'I':
			dst = append2(dst, hour12(hour))
		case 'l':
			dst = appendSpace2(dst, hour12(hour))
		case 'M':
			dst = append2(dst, min)
		case 'S':
			dst = append2(dst, sec)
		case 'p':
			if hour < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case 'P':
			if hour < 12 {
				dst = append(dst, "am"...)
			} else {
				dst = append(dst, "pm"...)
			}
		case 's':
			dst = strconv.AppendInt(dst, t.Unix(), 10)
		case 'L':
			dst = appendFrac(dst, t.Nanosecond()/1e6, 3)
		case 'f':
			dst = appendFrac(dst, t.Nanosecond()/1e3, 6)
		case 'N':
			dst = appendFrac(dst, t.Nanosecond(), 9)
		case '#': // %<k>N
			ns := t.Nanosecond()
			for k := o.a; k < 9; k++ {
				ns /= 10
			}
			dst = appendFrac(dst, ns, int(o.a))
		case 'z':
			_, off := t.Zone()
			sign := byte('+')
			if off < 0 {
				sign, off = '-', -off
			}
			off /= 60
			dst = append(dst, sign)
			dst = append2(dst, off/60%100)
			dst = append2(dst, off%60)
		case 'Z':
			name, _ := t.Zone()
			dst = append(dst, name...)
		}
	}
	return dst
}

func hour12(h int) int {
	h %= 12
	if h == 0 {
		return 12
	}
	return h
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

func floorMod(a, b int) int {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// append2 appends v (0..99) as two digits. Values outside that range keep their last two digits.
func append2(dst []byte, v int) []byte {
	v = floorMod(v, 100)
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

func appendSpace2(dst []byte, v int) []byte {
	if v < 10 {
		return append(dst, ' ', byte('0'+v))
	}
	return append2(dst, v)
}

func append4(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// appendFrac appends v zero-padded to width digits.
func appendFrac(dst []byte, v, width int) []byte {
	var buf [9]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:width]...)
}
