// Package loadgen drives OpenWhisk actions and measures them: it invokes
// actions through the OpenWhisk REST API (closed or open loop, warm or forced
// cold starts), keeps one row per activation with the record's waitTime,
// initTime and duration beside the client-side latency, and turns those rows
// into statistics, tables and plots. cmd/loadgen is its command line.
package loadgen
