// SPDX-License-Identifier: MIT
//
// The C++ side of docs/embedding.md: the same headers and libraries from
// C++17, the session owned by a unique_ptr, captureless lambdas as the
// sink and the writer. The guest runs a scenario, reports one passing test
// and its workload exits with status 3: the verdict is WORKLOAD_FAILED and
// the program exits 3. Limits: one guest, one feed, 1 s of simulated time.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include <vigil/session.h>
#include <vigil/wire.h>

namespace
{

constexpr uint64_t ms = 1000000;

// The guest's stream, one sealed frame after another.
struct Stream {
	std::vector<uint8_t> bytes;
	uint32_t seq = 0;

	// encode(payload, room) writes one payload and returns its length or -errno.
	template <class Encode> void put(uint16_t type, Encode encode)
	{
		size_t at = bytes.size();
		bytes.resize(at + VIGIL_WIRE_MAX_FRAME);
		int n = encode(bytes.data() + at + VIGIL_WIRE_HDR_LEN, VIGIL_WIRE_MAX_PAYLOAD);
		if (n >= 0)
			n = vigil_frame_seal(bytes.data() + at, VIGIL_WIRE_MAX_FRAME, type, seq,
					     static_cast<size_t>(n));
		if (n < 0) {
			std::fprintf(stderr, "consumer++: cannot build %s: %s\n",
				     vigil_msg_name(type), std::strerror(-n));
			std::exit(2);
		}
		bytes.resize(at + static_cast<size_t>(n));
		seq++;
	}
};

using Session = std::unique_ptr<vigil_session, decltype(&vigil_session_free)>;

} // namespace

int main()
{
	Stream g;
	g.put(VIGIL_MSG_HELLO, [](uint8_t *p, size_t cap) {
		vigil_hello h{};
		h.proto_version = VIGIL_WIRE_VERSION;
		h.agent_version = VIGIL_STR("consumer++");
		h.kernel_release = VIGIL_STR("6.1.0");
		h.hostname = VIGIL_STR("guest");
		return vigil_hello_encode(p, cap, &h);
	});
	g.put(VIGIL_MSG_SYS_RDY, vigil_sys_rdy_encode);
	g.put(VIGIL_MSG_SCENARIO_START, [](uint8_t *p, size_t cap) {
		return vigil_scenario_encode(p, cap, VIGIL_STR("warmup"));
	});
	g.put(VIGIL_MSG_TEST_RESULT, [](uint8_t *p, size_t cap) {
		vigil_test_result t{};
		t.outcome = VIGIL_TEST_PASS;
		t.duration_ns = 5 * ms;
		t.name = VIGIL_STR("boot/smoke");
		return vigil_test_result_encode(p, cap, &t);
	});
	g.put(VIGIL_MSG_SCENARIO_END, [](uint8_t *p, size_t cap) {
		return vigil_scenario_encode(p, cap, VIGIL_STR("warmup"));
	});
	g.put(VIGIL_MSG_EXIT, [](uint8_t *p, size_t cap) {
		vigil_exit x{};
		x.exit_status = 3;
		return vigil_exit_encode(p, cap, &x);
	});

	vigil_session_hooks hooks{};
	hooks.sink.event = [](void *, const vigil_event *ev) {
		std::printf("%s\n", vigil_event_name(ev->type));
	};
	vigil_session_opts o;
	vigil_session_opts_default(&o);

	const uint64_t t0 = 5000 * ms;
	vigil_session *raw = nullptr;
	if (int r = vigil_session_new(&o, &hooks, t0, &raw); r < 0) {
		std::fprintf(stderr, "consumer++: vigil_session_new: %s\n", std::strerror(-r));
		return 2;
	}
	Session s(raw, vigil_session_free);

	vigil_session_link_up(s.get(), t0);
	vigil_session_feed(s.get(), g.bytes.data(), g.bytes.size(), t0 + 10 * ms);
	vigil_session_tick(s.get(), t0 + 20 * ms);
	const vigil_verdict *v = vigil_session_finish(s.get(), t0 + 1000 * ms);

	char *json = nullptr;
	if (vigil_verdict_to_json(v, 0, &json) < 0) {
		std::fprintf(stderr, "consumer++: cannot render the verdict: out of memory\n");
		return 2;
	}
	std::printf("%s\n", json);
	std::free(json);
	std::printf("tests passed: %u\n", v->tests_by_outcome[VIGIL_TEST_PASS]);
	std::printf("verdict: %s, exit code %d\n", vigil_outcome_name(v->outcome),
		    vigil_verdict_exit_code(v));
	return vigil_verdict_exit_code(v);
}
