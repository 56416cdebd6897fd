#include "doctor_ping.hpp"

#include <cstdio>

#include "ping_session.hpp"
#include "ping_verdict.hpp"

namespace rfab::cli::doctor {

Check probe_peer_ping(const std::string& peer, uint16_t port, std::chrono::milliseconds timeout) {
  Check c{"ping " + peer, Verdict::pass, "", ""};
  try {
    const auto peers = ping::resolve_hosts({{peer, port, 0}});
    ping::SessionOptions o;
    o.agent.ip = ping::source_ip_for(peers[0].ip);
    if (o.agent.ip.empty()) throw std::runtime_error("no route to " + peers[0].ip);
    o.agent.tcp_port = 0;   // ephemeral: an agent of this host may hold the usual ports
    o.agent.roce_port = 0;
    o.agent.entropies = 8;
    // ACK timeout code 16 (268 ms, not the default 34 ms): a host busy with other work can keep either agent
    // off the CPU for tens of milliseconds, and a check that reports that as loss sends the user to the
    // fabric for nothing. A probe the fabric really lost is still resent, and counted, well within the wait.
    o.agent.ack_timeout = 16;
    o.agent.wait = timeout;
    o.schedule.count = 5;
    o.schedule.interval = 10'000'000;
    const ping::Matrix m = ping::probe_peers(peers, o);
    const ping::PairResult& p = m.pairs.at(0);
    if (!p.reached) {
      c.verdict = Verdict::warn;
      c.detail = "no rfab ping agent answered at " + peers[0].ip + ":" + std::to_string(port) + " (" + p.error + ")";
      c.hint = "run `rfab ping --serve --self " + peers[0].ip + "` on the peer to probe it over RoCE";
      return c;
    }
    const ping::Verdict v = ping::judge(m, 0);
    char buf[160];
    std::snprintf(buf, sizeof buf, "%u entropies x %u RDMA WRITEs: round trip p50 %.0f us, p99 %.0f us, max %.0f us, %llu of %llu lost",
                  8u, 5u, p.rtt.p50_us, p.rtt.p99_us, p.rtt.max_us, static_cast<unsigned long long>(p.lost()),
                  static_cast<unsigned long long>(p.sent()));
    c.detail = buf;
    if (!v.ok()) {
      c.verdict = Verdict::fail;
      c.detail += "; " + v.findings.at(0).text;
      c.hint = v.findings[0].kind == ping::Finding::Kind::path
                   ? "some ECMP paths to the peer lose packets: check the links those source ports hash onto"
                   : "RoCE packets to the peer are lost on every path: check the peer's link and the fabric";
    }
  } catch (const std::exception& e) {
    c.verdict = Verdict::fail;
    c.detail = e.what();
    c.hint = "the RoCE probe could not run from this host";
  }
  return c;
}

}  // namespace rfab::cli::doctor
