/* SPDX-License-Identifier: MIT */
/*
 * Counters, declared once: the table of every value in struct
 * vigil_session_counters (name, unit, help, kind, where it lives), and the
 * list of those that ANOMALY events report. Every writer reads the table:
 * the verdict's JSON (json.c), the anomaly events (session.c) and, through
 * vigil_session_counter_descs(), exporters such as a /metrics page.
 *
 * Owns: ctr_descs[] (the public descriptors, in the order the verdict's
 * JSON shows them, grouped by the JSON object that holds them) and
 * ctr_anomalies[] (in report order). Both are const data; nothing here
 * allocates or keeps state.
 *
 * Load: the JSON writer walks the table once per verdict; the anomaly
 * report walks its list once per anomaly_interval_ns.
 */
#ifndef VIGIL_HOST_COUNTERS_H
#define VIGIL_HOST_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>

#include <vigil/session.h>

/*
 * The table. Rows come in three shapes:
 *
 * S(group, base, key, name, unit, kind, help): one value, the member
 *   `base key` of struct vigil_session_counters (base is the nested struct
 *   with its dot, or nothing); key is its JSON key in the group.
 * A(group, array, key, name, unit, kind, index, label, help): one value per
 *   element of the array member `array`, member `key` of each element.
 * L(group, array, name, unit, kind, index, label, help): an array of plain
 *   values whose labels are the group's JSON keys.
 *
 * group is the JSON object that holds the row (docs/verdict.md), name the
 * metric name (unique, snake_case, base units: a SECONDS value is kept in
 * ns), unit one of COUNT, BYTES, SECONDS, kind COUNTER or GAUGE. The order
 * is the JSON order; a group's rows are contiguous.
 */
#define CTR_TABLE(S, A, L)                                                                         \
	S(stream, stream., bytes, "stream_bytes", BYTES, COUNTER,                                  \
	  "Bytes fed to the stream assembler.")                                                    \
	S(stream, stream., frames, "stream_frames", COUNT, COUNTER,                                \
	  "Frames the assembler delivered, CRC-valid or not.")                                     \
	S(stream, stream., garbage_bytes, "stream_garbage_bytes", BYTES, COUNTER,                  \
	  "Bytes skipped while looking for a frame's magic.")                                      \
	S(stream, stream., header_crc_errors, "stream_header_crc_errors", COUNT, COUNTER,          \
	  "Frame headers whose CRC did not match; each skips one byte.")                           \
	S(stream, stream., oversize_frames, "stream_oversize_frames", COUNT, COUNTER,              \
	  "Frame headers announcing a payload over the limit.")                                    \
	S(stream, stream., payload_crc_errors, "stream_payload_crc_errors", COUNT, COUNTER,        \
	  "Frames delivered with a payload CRC mismatch (torn).")                                  \
	S(stream, stream., lost_frames, "stream_lost_frames", COUNT, COUNTER,                      \
	  "Frames missing from the sequence (sum of forward jumps).")                              \
	S(stream, stream., seq_regressions, "stream_seq_regressions", COUNT, COUNTER,              \
	  "Backward sequence steps that did not start a new epoch.")                               \
	S(stream, stream., epochs, "stream_epochs", COUNT, COUNTER,                                \
	  "HELLO frames with sequence number 0 seen by the assembler.")                            \
	S(stream, stream., resets, "stream_resets", COUNT, COUNTER,                                \
	  "Assembler resets: the link went down.")                                                 \
	S(stream, stream_acct., frame_bytes, "stream_frame_bytes", BYTES, COUNTER,                 \
	  "Bytes of the frames delivered, headers included.")                                      \
	S(stream, stream_acct., held_bytes, "stream_held_bytes", BYTES, GAUGE,                     \
	  "Bytes held now: a frame, header or magic not complete yet.")                            \
	S(stream, stream_acct., held_dropped_bytes, "stream_held_dropped_bytes", BYTES, COUNTER,   \
	  "Bytes held when the link went down or the run finished: dropped.")                      \
	S(stream, , unknown_type, "stream_unknown_type_frames", COUNT, COUNTER,                    \
	  "Frames of a type the protocol does not define.")                                        \
	S(stream, , wrong_direction, "stream_wrong_direction_frames", COUNT, COUNTER,              \
	  "Frames of a host-to-guest type received from the guest.")                               \
	A(types, type, frames, "type_frames", COUNT, COUNTER, BY_MSG_TYPE, "type",                 \
	  "Frames delivered, by message type, CRC-valid or not.")                                  \
	A(types, type, crc_rejected, "type_crc_rejected_frames", COUNT, COUNTER, BY_MSG_TYPE,      \
	  "type", "Control and record frames dropped for a payload CRC mismatch, by type.")        \
	A(types, type, malformed, "type_malformed_frames", COUNT, COUNTER, BY_MSG_TYPE, "type",    \
	  "CRC-valid frames with a wrong shape for their type.")                                   \
	A(types, type, ignored, "type_ignored_frames", COUNT, COUNTER, BY_MSG_TYPE, "type",        \
	  "Well-formed frames their type's rules ignored (repeats, unmatched), by type.")          \
	S(session, , epochs, "session_epochs", COUNT, COUNTER,                                     \
	  "HELLOs with sequence number 0 acted on.")                                               \
	S(session, , agent_restarts, "session_agent_restarts", COUNT, COUNTER,                     \
	  "Agent restarts: epochs after the first.")                                               \
	S(session, , proto_mismatch, "session_proto_mismatches", COUNT, COUNTER,                   \
	  "HELLOs announcing a protocol version other than 1.")                                    \
	S(session, , sys_rdy_repeats, "session_sys_rdy_repeats", COUNT, COUNTER,                   \
	  "SYS_RDY frames after the first of an epoch.")                                           \
	S(session, , scenario_double_pause, "session_scenario_double_pauses", COUNT, COUNTER,      \
	  "SCENARIO_PAUSE frames for a scenario already paused.")                                  \
	S(session, , scenario_unmatched, "session_scenario_unmatched", COUNT, COUNTER,             \
	  "SCENARIO_PAUSE, RESUME or END frames with no scenario (or pause) to act on.")           \
	S(session, , scenario_overlap, "session_scenario_overlaps", COUNT, COUNTER,                \
	  "SCENARIO_START frames while a scenario ran; the running one was ended.")                \
	S(session, , scenarios_dropped, "session_scenarios_dropped", COUNT, COUNTER,               \
	  "Scenarios past max_scenarios, not kept in the verdict.")                                \
	S(session, , snapshot_busy, "session_snapshot_busy", COUNT, COUNTER,                       \
	  "Snapshot requests refused with EBUSY: another one was in flight.")                      \
	S(session, , snapshot_unsupported, "session_snapshot_unsupported", COUNT, COUNTER,         \
	  "Snapshot requests refused with EOPNOTSUPP.")                                            \
	S(session, , snapshot_refused, "session_snapshot_refused", COUNT, COUNTER,                 \
	  "Snapshot requests the snapshot provider refused.")                                      \
	S(session, , snapshot_duplicates, "session_snapshot_duplicates", COUNT, COUNTER,           \
	  "Repeats of a snapshot request in flight or already answered.")                          \
	S(session, , tests_dropped, "session_tests_dropped", COUNT, COUNTER,                       \
	  "Test results past max_tests, not kept in the verdict.")                                 \
	S(session, , output_bytes, "session_output_bytes", BYTES, COUNTER,                         \
	  "Payload bytes of STDOUT, STDERR, DMESG and LOG frames.")                                \
	S(session, , output_torn, "session_output_torn_chunks", COUNT, COUNTER,                    \
	  "Output chunks shown with a payload CRC mismatch.")                                      \
	S(session, , exits_ignored, "session_exits_ignored", COUNT, COUNTER,                       \
	  "EXIT frames after the first.")                                                          \
	S(session, , strings_truncated, "session_strings_truncated", COUNT, COUNTER,               \
	  "Guest strings cut to their bound.")                                                     \
	S(session, , tx_frames, "session_tx_frames", COUNT, COUNTER, "Frames sent to the guest.")  \
	S(session, , tx_bytes, "session_tx_bytes", BYTES, COUNTER,                                 \
	  "Bytes of the frames sent to the guest.")                                                \
	S(session, , tx_errors, "session_tx_errors", COUNT, COUNTER,                               \
	  "Frames for the guest that no writer took.")                                             \
	S(session, , pings, "session_pings", COUNT, COUNTER, "PINGs sent to the guest.")           \
	S(session, , pongs, "session_pongs", COUNT, COUNTER, "PONGs that matched a PING.")         \
	S(session, , pong_unmatched, "session_pongs_unmatched", COUNT, COUNTER,                    \
	  "PONGs that matched no PING in flight.")                                                 \
	S(session, , rtt_last_ns, "session_rtt_last_seconds", SECONDS, GAUGE,                      \
	  "Round-trip time of the last PING answered.")                                            \
	S(session, , rtt_min_ns, "session_rtt_min_seconds", SECONDS, GAUGE,                        \
	  "Shortest PING round trip; 0 before the first.")                                         \
	S(session, , rtt_max_ns, "session_rtt_max_seconds", SECONDS, GAUGE,                        \
	  "Longest PING round trip.")                                                              \
	S(session, , clock_regressions, "session_clock_regressions", COUNT, COUNTER,               \
	  "Calls whose time was below the latest seen (clamped).")                                 \
	S(session, , clock_forward_jumps, "session_clock_forward_jumps", COUNT, COUNTER,           \
	  "Ticks later than their deadline by more than clock_jump_ns.")                           \
	S(session, , vm_stops, "session_vm_stops", COUNT, COUNTER,                                 \
	  "Times the VM was reported stopped.")                                                    \
	S(session, , vm_stopped_ns, "session_vm_stopped_seconds", SECONDS, COUNTER,                \
	  "Host time the VM spent stopped.")                                                       \
	S(session, , host_read_pauses, "session_host_read_pauses", COUNT, COUNTER,                 \
	  "Times the host stopped reading the guest (its outputs backlogged).")                    \
	S(session, , host_read_paused_ns, "session_host_read_paused_seconds", SECONDS, COUNTER,    \
	  "Host time the host did not read the guest.")                                            \
	S(session, , link_ups, "session_link_ups", COUNT, COUNTER,                                 \
	  "Times the guest link came up.")                                                         \
	S(session, , link_downs, "session_link_downs", COUNT, COUNTER,                             \
	  "Times the guest link went down.")                                                       \
	S(session, , evidence_lines, "session_evidence_lines", COUNT, COUNTER,                     \
	  "Console, DMESG and LOG lines seen.")                                                    \
	S(session, , findings_dropped, "session_findings_dropped", COUNT, COUNTER,                 \
	  "Findings the bounded table did not keep.")                                              \
	S(session, , evidence_dropped, "session_evidence_dropped", COUNT, COUNTER,                 \
	  "Evidence lines the bounded pool did not keep.")                                         \
	S(session, , kernel_trouble_dropped, "session_kernel_trouble_dropped", COUNT, COUNTER,     \
	  "Kernel troubles past the per-kind bound: counted, no finding.")                         \
	L(kernel_trouble, kernel_trouble, "kernel_troubles", COUNT, COUNTER, BY_KERNEL_TROUBLE,    \
	  "kind", "Kernel troubles seen, by kind; each report once, kept or not.")                 \
	S(tracker, tracker., beats, "tracker_beats", COUNT, COUNTER, "Beat records accepted.")     \
	S(tracker, tracker., drop_out_of_order, "tracker_drop_out_of_order", COUNT, COUNTER,       \
	  "Beat records dropped: nonce not above the pid's last.")                                 \
	S(tracker, tracker., drop_capacity, "tracker_drop_capacity", COUNT, COUNTER,               \
	  "Beat records dropped: table full, nothing evictable, or probe budget hit.")             \
	S(tracker, tracker., drop_origin_conflict, "tracker_drop_origin_conflict", COUNT, COUNTER, \
	  "Beat records dropped: origin differs from the pid's pinned one.")                       \
	S(tracker, tracker., drop_namespace_conflict, "tracker_drop_namespace_conflict", COUNT,    \
	  COUNTER, "Beat records dropped: pid namespace differs from the pinned one.")             \
	S(tracker, tracker., drop_malformed, "tracker_drop_malformed", COUNT, COUNTER,             \
	  "Beat records dropped: bad pid or status, or in a torn or malformed frame.")             \
	S(tracker, tracker., drop_rate_limited, "tracker_drop_rate_limited", COUNT, COUNTER,       \
	  "Beat records dropped: closer than pid_min_interval_ns to the pid's last.")              \
	S(tracker, tracker., drop_throttled, "tracker_drop_throttled", COUNT, COUNTER,             \
	  "Beat records dropped: the guest's token bucket was empty.")                             \
	S(tracker, tracker., probe_exhausted, "tracker_probe_exhausted", COUNT, COUNTER,           \
	  "Of the capacity drops, those where the pid index's probe budget was hit.")              \
	S(tracker, tracker., nonce_wraps, "tracker_nonce_wraps", COUNT, COUNTER,                   \
	  "Beat nonces accepted across the wrap.")                                                 \
	S(tracker, tracker., inserted, "tracker_inserted", COUNT, COUNTER,                         \
	  "Pids added to the table.")                                                              \
	S(tracker, tracker., evicted, "tracker_evicted", COUNT, COUNTER,                           \
	  "Pids evicted to make room.")                                                            \
	S(tracker, tracker., stopped, "tracker_stopped", COUNT, COUNTER,                           \
	  "STOPPING beats: pids that said goodbye.")                                               \
	S(tracker, tracker., stalls, "tracker_stalls", COUNT, COUNTER,                             \
	  "Stalls: a pid missed its deadline (once per silence).")                                 \
	S(tracker, tracker., recoveries, "tracker_recoveries", COUNT, COUNTER,                     \
	  "Stalled pids that beat again.")                                                         \
	S(tracker, tracker., host_starved, "tracker_host_starved", COUNT, COUNTER,                 \
	  "Stalls classified HOST_STARVED: the vCPUs got no CPU time.")                            \
	S(tracker, tracker., tracked, "tracker_tracked", COUNT, GAUGE, "Pids in the table now.")   \
	S(tracker, tracker., stalled, "tracker_stalled", COUNT, GAUGE,                             \
	  "Pids in the table that are stalled now.")                                               \
	S(flows, flows., events, "flows_records", COUNT, COUNTER, "Flow records accepted.")        \
	S(flows, flows., opened, "flows_opened", COUNT, COUNTER,                                   \
	  "Flows opened: a new key or a reopened one.")                                            \
	S(flows, flows., unique, "flows_unique", COUNT, COUNTER, "Flow keys ever inserted.")       \
	S(flows, flows., closed, "flows_closed", COUNT, COUNTER, "Flows closed.")                  \
	S(flows, flows., open_now, "flows_open", COUNT, GAUGE, "Flows open now.")                  \
	S(flows, flows., in_table, "flows_in_table", COUNT, GAUGE,                                 \
	  "Flows in the table now, open or closed.")                                               \
	S(flows, flows., bytes, "flows_bytes", BYTES, COUNTER,                                     \
	  "Sum over flows of the latest byte counts reported.")                                    \
	S(flows, flows., packets, "flows_packets", COUNT, COUNTER,                                 \
	  "Sum over flows of the latest packet counts reported.")                                  \
	S(flows, flows., table_full, "flows_table_full", COUNT, COUNTER,                           \
	  "New flow keys that found the table full.")                                              \
	S(flows, flows., reclaimed, "flows_reclaimed", COUNT, COUNTER,                             \
	  "Closed flows reclaimed to make room.")                                                  \
	S(flows, flows., dropped, "flows_dropped", COUNT, COUNTER,                                 \
	  "Flow records lost: the table was full of open flows.")                                  \
	S(flows, flows., orphan_close, "flows_orphan_closes", COUNT, COUNTER,                      \
	  "CLOSED records for a flow never seen open.")                                            \
	S(flows, flows., listening, "flows_listening", COUNT, COUNTER,                             \
	  "Listening sockets opened: TCP LISTEN, or UDP without a peer.")                          \
	S(inspect, inspect., sent, "inspect_sent", COUNT, COUNTER,                                 \
	  "INSPECTs sent to the guest after process stalls.")                                      \
	S(inspect, inspect., reports, "inspect_reports", COUNT, COUNTER,                           \
	  "PROCESS_REPORTs that matched a request in flight.")                                     \
	S(inspect, inspect., busy, "inspect_busy", COUNT, COUNTER,                                 \
	  "Of the matched reports, those the agent answered EBUSY.")                               \
	S(inspect, inspect., refused, "inspect_refused", COUNT, COUNTER,                           \
	  "INSPECTs the host's bounds refused (rate, requests or stalls in flight).")              \
	S(inspect, inspect., timeouts, "inspect_timeouts", COUNT, COUNTER,                         \
	  "INSPECTs with no report after 2 s of runnable time.")                                   \
	S(inspect, inspect., cancelled, "inspect_cancelled", COUNT, COUNTER,                       \
	  "INSPECTs in flight cancelled by a new epoch or a link loss.")                           \
	S(inspect, inspect., classified, "inspect_classified", COUNT, COUNTER,                     \
	  "Process stalls given a class from their samples.")                                      \
	S(inspect, inspect., guest_stalls, "inspect_guest_stalls", COUNT, COUNTER,                 \
	  "Guest stalls: the agent itself stopped running.")                                       \
	S(inspect, inspect., folded, "inspect_folded", COUNT, COUNTER,                             \
	  "Process stalls folded into a guest stall.")                                             \
	S(inspect, inspect., infos_dropped, "inspect_infos_dropped", COUNT, COUNTER,               \
	  "Stalls not classified: no room left to keep their samples.")

/* Row ids: CTR_<group>_<key>, CTR_<group> for an L row. */
#define CTR_ID_S(group, base, key, ...)  CTR_##group##_##key,
#define CTR_ID_A(group, array, key, ...) CTR_##group##_##key,
#define CTR_ID_L(group, array, ...)      CTR_##group,
enum ctr_id { CTR_TABLE(CTR_ID_S, CTR_ID_A, CTR_ID_L) CTR__COUNT };
#undef CTR_ID_S
#undef CTR_ID_A
#undef CTR_ID_L

extern const struct vigil_counter_desc ctr_descs[CTR__COUNT];

/*
 * A counter that ANOMALY events report when it moves. The event names it
 * by its JSON key, except the flow counters, whose keys alone say too little
 * ("dropped"): those go by their metric name ("flows_dropped"). An array
 * counter is reported as its sum ("crc_rejected", "malformed").
 */
struct ctr_anomaly {
	uint16_t id;  /* enum ctr_id */
	bool by_name; /* named by the metric name, not the JSON key */
};

#define CTR_ANOMALIES 25u
extern const struct ctr_anomaly ctr_anomalies[CTR_ANOMALIES];

/* The name an ANOMALY event gives the counter. */
static inline const char *ctr_anomaly_name(const struct ctr_anomaly *a)
{
	const struct vigil_counter_desc *d = &ctr_descs[a->id];

	return a->by_name ? d->name : d->field;
}

#endif /* VIGIL_HOST_COUNTERS_H */
