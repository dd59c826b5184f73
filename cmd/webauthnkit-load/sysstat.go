package main

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/webauthnkit/webauthnkit/internal/testenv"
)

// clockTicks is USER_HZ, the unit of /proc/stat; 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// machineCPU returns the busy CPU time of the whole machine (all processes,
// all cores: database servers included) from /proc/stat, and false where
// /proc/stat cannot be read. Its resolution is 10 ms per core.
func machineCPU() (time.Duration, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, false
	}
	var busy int64
	for i, f := range fields[1:] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, false
		}
		// user nice system idle iowait irq softirq steal guest guest_nice:
		// idle and iowait are not busy; guest time is already in user.
		switch i {
		case 3, 4, 8, 9:
			continue
		}
		busy += v
	}
	return time.Duration(busy) * time.Second / clockTicks, true
}

// Machine describes where a run was made.
type Machine struct {
	NumCPU     int    `json:"numCPU"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpuModel"`
	GoVersion  string `json:"goVersion"`
	OS         string `json:"os"`
	Kernel     string `json:"kernel,omitempty"`
	MemoryGiB  int    `json:"memoryGiB,omitempty"`
}

func machineInfo() Machine {
	m := Machine{
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS + "/" + runtime.GOARCH,
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				m.MemoryGiB = int(math.Round(float64(kb) / (1 << 20)))
			}
		}
	}
	return m
}

// serverProcesses are the database servers whose CPU time is reported per
// login, by command name (/proc/PID/stat).
var serverProcesses = map[string]bool{"postgres": true, "redis-server": true, "mariadbd": true, "mysqld": true}

// processGroupCPU returns the CPU time (user + system) used so far by the
// processes of serverProcesses, summed per command name, and by this
// process as "self". Processes that exit meanwhile drop out of the sums,
// so pools of long-lived connections (as here) are what it measures well.
func processGroupCPU() map[string]time.Duration {
	out := map[string]time.Duration{"self": testenv.ProcessCPU()}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	self := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		name := e.Name()
		if name == self || name[0] < '0' || name[0] > '9' {
			continue
		}
		data, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime(14) stime(15): comm may hold spaces.
		open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
		if open < 0 || end < open {
			continue
		}
		comm := string(data[open+1 : end])
		if !serverProcesses[comm] {
			continue
		}
		fields := strings.Fields(string(data[end+1:]))
		if len(fields) < 13 {
			continue
		}
		utime, err1 := strconv.ParseInt(fields[11], 10, 64)
		stime, err2 := strconv.ParseInt(fields[12], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out[comm] += time.Duration(utime+stime) * time.Second / clockTicks
	}
	return out
}

// loadAverage returns the 1-minute load average, or -1.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// backgroundBusy measures how many cores were busy over d before a run
// starts (other work on the machine skews the figures), or -1.
func backgroundBusy(d time.Duration) float64 {
	a, ok1 := machineCPU()
	time.Sleep(d)
	b, ok2 := machineCPU()
	if !ok1 || !ok2 {
		return -1
	}
	return round((b-a).Seconds()/d.Seconds(), 2)
}
