// The rdma_cm exchange with a kernel rdma_cm peer: IB CM MADs on QP1 (cm_mad.hpp, cm_gsi.hpp) instead of
// the TCP side channel. Active side: rdma_connect's REQ (sent when the peer refuses the side channel),
// the peer's REP answered with an RTU, REJ and MRA. Passive side: a kernel client's REQ to a listener
// becomes a CONNECT_REQUEST, rdma_accept's REP is sent until the RTU comes. DREQ/DREP both ways.
#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <random>

#include "cm_gsi.hpp"
#include "cm_mad.hpp"
#include "cma.hpp"
#include "provider.hpp"

namespace rfab::uverbs::cma {
namespace {

uint32_t random32() {
  static std::mt19937 rng{std::random_device{}()};
  uint32_t v = 0;
  while (v == 0) v = static_cast<uint32_t>(rng());
  return v;
}

udp::Address src_of(const Id& id) { return normalized(&id.id.route.addr.src_addr); }
udp::Address dst_of(const Id& id) { return normalized(&id.id.route.addr.dst_addr); }

uint16_t port_of(const sockaddr* sa) {
  return ntohs(sa->sa_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port
                                         : reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
}

void transmit(const Id& id, const std::array<uint8_t, ibcm::kMadSize>& mad) {
  const char* why = nullptr;
  if (!gsi::send(src_of(id), id.mad.peer, mad, &why))
    std::fprintf(stderr, "rfab-verbs: rdma_cm: %s\n", why);
}

// Sends `m` now and again every kMadResendNs until answered or kMadMaxTries are spent.
void send_reliably(Id& id, const ibcm::CmMad& m) {
  auto mad = ibcm::encode(m);
  if (!mad) return;
  id.mad.pending = *mad;
  id.mad.resending = true;
  id.mad.tries = 1;
  id.mad.resend_at_ns = now_ns() + kMadResendNs;
  transmit(id, *mad);
}

ibcm::CmMad header(const Id& id, ibcm::Attr a) {
  ibcm::CmMad m;
  m.attr = a;
  m.tid = id.mad.tid;
  m.local_comm_id = id.mad.local_comm_id;
  m.remote_comm_id = id.mad.remote_comm_id;
  return m;
}

// The peer's REP as the exchange's message (cm_wire.hpp): its QP and depths; its GID is the route's
// destination (a REP carries none). The starting PSNs cross over (see mad_send_req): the peer sends
// from the PSN this end's REQ stated, this end from the one in the REP.
cm::Message message_of_rep(Id& id, const ibcm::CmMad& rep) {
  cm::Message m;
  m.type = cm::Type::kReply;
  m.qpn = rep.local_qpn;
  m.psn = id.psn;
  id.psn = rep.starting_psn;
  m.gid = dst_of(id).gid();
  m.responder_resources = rep.responder_resources;
  m.initiator_depth = rep.initiator_depth;
  m.rnr_retry_count = rep.rnr_retry_count;
  m.retry_count = id.local.retry_count;
  m.path_mtu = 0;  // the REQ stated ours; the peer's REP keeps it
  m.private_data = rep.private_data;
  return m;
}

Id* find_by_comm_id(uint32_t local_comm_id) {
  Id* found = nullptr;
  if (local_comm_id == 0) return nullptr;
  for_each_id([&](Id& id) {
    if (id.mad.local_comm_id == local_comm_id) found = &id;
  });
  return found;
}

void got_rep(Id& id, const ibcm::CmMad& rep) {
  if (id.mad.active) {
    // Our RTU was lost and the peer sent its REP again: answer it again.
    if (id.state == cm::State::kEstablished) transmit(id, *ibcm::encode(header(id, ibcm::Attr::kRtu)));
    return;
  }
  if (id.state != cm::State::kConnecting || !id.mad.req_out) return;
  close_socket(id);  // the peer's CM answered: no side channel
  id.mad.active = true;
  id.mad.req_out = false;
  id.mad.resending = false;
  id.mad.remote_comm_id = rep.local_comm_id;
  id.mad.remote_qpn = rep.local_qpn;
  id.state = cm::State::kReqSent;
  got_reply(id, message_of_rep(id, rep));
}

void got_rej(Id& id, const ibcm::CmMad& rej) {
  cm::Message m;
  m.type = cm::Type::kReject;
  m.private_data = rej.private_data;
  id.mad.resending = false;
  if (id.state == cm::State::kConnecting && id.mad.req_out) {
    id.mad.req_out = false;
    if (now_ns() < id.refused_retry_until_ns) {
      id.mad.held_reject = true;
      id.mad.held_reason = rej.reason;
      id.mad.held_private_data = rej.private_data;
      return;
    }
    close_socket(id);
    apply(id, cm::Input::kTcpRefused, rej.reason, &m);  // REJECTED with the peer's reason
    return;
  }
  if (id.mad.active) apply(id, cm::Input::kGotRej, rej.reason, &m);
}

void got_dreq(Id& id, const ibcm::CmMad& dreq) {
  if (!id.mad.active) return;
  ibcm::CmMad drep = header(id, ibcm::Attr::kDrep);
  drep.tid = dreq.tid;
  if (auto mad = ibcm::encode(drep)) transmit(id, *mad);
  apply(id, cm::Input::kGotDreq);
  if (id.id.qp != nullptr && id.id.qp->state != IBV_QPS_ERR && id.id.qp->state != IBV_QPS_RESET) {
    // As the kernel's CM on a DREQ: the QP's outstanding work is flushed.
    ibv_qp_attr a{};
    a.qp_state = IBV_QPS_ERR;
    (void)ibv_modify_qp(id.id.qp, &a, IBV_QP_STATE);
  }
}

void reject_req(const gsi::Received& r, const ibcm::CmMad& req, uint16_t reason) {
  ibcm::CmMad rej;
  rej.attr = ibcm::Attr::kRej;
  rej.tid = req.tid;
  rej.local_comm_id = random32();
  rej.remote_comm_id = req.local_comm_id;
  rej.message = ibcm::kMsgReq;
  rej.reason = reason;
  const char* why = nullptr;
  if (auto mad = ibcm::encode(rej); !mad || !gsi::send(r.local, r.src, *mad, &why))
    std::fprintf(stderr, "rfab-verbs: rdma_cm: REJ not sent: %s\n", why != nullptr ? why : "encoding");
}

// The listening id for a REQ's service ID (port space and port) on the address it arrived at (or on a
// wildcard address).
Id* listener_for(const udp::Address& local, uint64_t service_id) {
  Id* found = nullptr;
  const auto port = static_cast<uint16_t>(service_id & 0xffff);
  for_each_id([&](Id& id) {
    if (id.state != cm::State::kListening || port_of(&id.id.route.addr.src_addr) != port) return;
    if (ibcm::service_id(static_cast<uint16_t>(id.id.ps), port) != service_id) return;
    const udp::Address bound = normalized(&id.id.route.addr.src_addr);
    if (bound.same_ip(local) || bound.ip == udp::Address{}.ip) found = &id;
  });
  return found;
}

// A REQ: a CONNECT_REQUEST on a new id of the listener. Rejected ("invalid service ID") when nobody
// listens on the port, and with reason 28 when an rfab provider sent it (kRfabQkey: it found no listener
// for a moment, and its side channel carries the connection when the listener is back in time,
// MadLink::held_reject). A retransmitted REQ of a connection already made is ignored.
void got_req(const gsi::Received& r, const ibcm::CmMad& req) {
  bool duplicate = false;
  for_each_id([&](Id& id) {
    if (id.mad.passive && id.mad.remote_comm_id == req.local_comm_id && id.mad.peer.same_ip(r.src)) duplicate = true;
  });
  if (duplicate) return;
  const uint16_t port = static_cast<uint16_t>(req.service_id & 0xffff);
  Id* listener = listener_for(r.local, req.service_id);
  if (listener == nullptr) return reject_req(r, req, ibcm::kRejInvalidServiceId);
  if (req.local_qkey == ibcm::kRfabQkey) return reject_req(r, req, ibcm::kRejConsumer);
  const char* why = nullptr;
  const auto cma = ibcm::decode_cma_header(req.private_data, &why);
  ibv_context* ctx = context_for(r.local);
  if (!cma || ctx == nullptr) {
    std::fprintf(stderr, "rfab-verbs: rdma_cm: CM REQ from %s rejected: %s\n", r.src.ip_string().c_str(),
                 cma ? "no rfab device owns the address it came to" : why);
    return reject_req(r, req, ibcm::kRejConsumer);
  }
  auto* child = new Id();
  std::memset(&child->id, 0, sizeof child->id);
  child->id.channel = listener->id.channel;
  child->id.context = listener->id.context;
  child->id.ps = listener->id.ps;
  child->id.qp_type = listener->id.qp_type;
  child->id.verbs = ctx;
  child->id.port_num = 1;
  child->listener = listener;
  child->state = cm::State::kReqWait;
  child->ack_timeout = listener->ack_timeout;
  child->tos = listener->tos;
  register_id(*child);
  r.local.with_port(port).to_sockaddr(child->id.route.addr.src_storage);
  r.src.with_port(cma->src_port).to_sockaddr(child->id.route.addr.dst_storage);
  ibv_gid g{};
  if (ibv_query_gid(ctx, 1, 0, &g) == 0) child->id.route.addr.addr.ibaddr.sgid = g;
  std::memcpy(child->id.route.addr.addr.ibaddr.dgid.raw, req.primary_local_gid.data(), 16);
  child->id.route.addr.addr.ibaddr.pkey = htons(0xffff);
  MadLink& mad = child->mad;
  mad.active = mad.passive = true;
  mad.local_comm_id = random32();
  mad.remote_comm_id = req.local_comm_id;
  mad.remote_qpn = req.local_qpn;
  mad.tid = req.tid;
  mad.peer = r.src;
  cm::Message m;
  m.type = cm::Type::kRequest;
  m.qpn = req.local_qpn;
  // The PSNs cross over (mad_send_req): this end sends from the REQ's starting PSN and receives from
  // the one its REP states (its own random one).
  m.psn = std::random_device{}() & 0xffffff;
  child->psn = req.starting_psn;
  m.gid = req.primary_local_gid;
  m.responder_resources = req.responder_resources;
  m.initiator_depth = req.initiator_depth;
  m.rnr_retry_count = req.rnr_retry_count;
  m.retry_count = req.retry_count;
  m.path_mtu = req.path_mtu;
  m.private_data.assign(req.private_data.begin() + ibcm::kCmaHeaderSize, req.private_data.end());
  child->peer = m;
  child->has_peer = true;
  apply(*child, cm::Input::kGotReq, 0, &m);
}

void received(const gsi::Received& r) {
  const char* why = nullptr;
  auto span = gsi::mad_of(r.packet, &why);
  if (!span) {
    std::fprintf(stderr, "rfab-verbs: rdma_cm: QP1 packet from %s dropped: %s\n", r.src.ip_string().c_str(), why);
    return;
  }
  auto m = ibcm::decode(*span, &why);
  if (!m) {
    std::fprintf(stderr, "rfab-verbs: rdma_cm: CM MAD from %s dropped: %s\n", r.src.ip_string().c_str(), why);
    return;
  }
  if (m->attr == ibcm::Attr::kReq) return got_req(r, *m);
  Id* id = find_by_comm_id(m->remote_comm_id);
  if (id == nullptr || !id->mad.peer.same_ip(r.src)) return;  // stale or not ours: as the kernel, ignored
  switch (m->attr) {
    case ibcm::Attr::kRep: return got_rep(*id, *m);
    case ibcm::Attr::kRej: return got_rej(*id, *m);
    case ibcm::Attr::kMra: {
      // The peer needs longer before its REP (4.096 us * 2^timeout), bounded so a silent peer still ends.
      const int64_t wait = std::min<int64_t>(int64_t{4096} << std::min<int>(m->service_timeout, 31), 30'000'000'000);
      id->mad.answer_by_ns = std::max(id->mad.answer_by_ns, now_ns() + wait + kMadAnswerNs);
      id->connect_deadline_ns = std::max(id->connect_deadline_ns, id->mad.answer_by_ns);
      id->mad.resend_at_ns = id->mad.answer_by_ns;
      return;
    }
    case ibcm::Attr::kDreq: return got_dreq(*id, *m);
    case ibcm::Attr::kDrep: id->mad.resending = false; return;
    case ibcm::Attr::kRtu:
      if (id->mad.passive && apply(*id, cm::Input::kGotRtu, 0, &id->peer)) id->mad.resending = false;
      return;
    case ibcm::Attr::kReq: return;  // handled above
  }
}

}  // namespace

void mad_send_req(Id& id) {
  // One REQ per connect (retransmitted by mad_timers); an answered or rejected one is not sent again.
  if (id.mad.local_comm_id != 0 || id.id.verbs == nullptr) return;
  const cm::Message local = local_message(id, cm::Type::kRequest);
  id.mad.local_comm_id = random32();
  id.mad.tid = uint64_t{random32()} << 32 | id.mad.local_comm_id;
  id.mad.peer = dst_of(id);
  ibcm::CmMad req = header(id, ibcm::Attr::kReq);
  req.local_qkey = ibcm::kRfabQkey;
  req.service_id = ibcm::service_id(static_cast<uint16_t>(id.id.ps), port_of(&id.id.route.addr.dst_addr));
  ibv_device_attr da{};
  if (ibv_query_device(id.id.verbs, &da) == 0) req.local_ca_guid = be64toh(da.node_guid);
  req.local_qpn = local.qpn;
  req.responder_resources = local.responder_resources;
  req.initiator_depth = local.initiator_depth;
  // The Linux CM reads a REQ's starting PSN as the one the passive side sends from, and the REP's as the
  // one the active side sends from (each end's receive PSN is the PSN it announced): so this end states
  // its receive PSN here and takes its send PSN from the REP (message_of_rep).
  req.starting_psn = local.psn;
  req.retry_count = local.retry_count;
  req.rnr_retry_count = local.rnr_retry_count;
  req.path_mtu = local.path_mtu;
  req.srq = id.id.qp != nullptr && id.id.qp->srq != nullptr;
  req.primary_local_gid = local.gid;
  req.primary_remote_gid = id.mad.peer.gid();
  req.traffic_class = id.tos;
  req.local_ack_timeout = id.ack_timeout;
  const udp::Address src = src_of(id);
  ibcm::CmaHeader cma;
  cma.ipv6 = src.v6;
  // The active id's port; an unbound id has none, so the connection ID's low bits stand in (the kernel
  // listener only reports it).
  cma.src_port = port_of(&id.id.route.addr.src_addr);
  if (cma.src_port == 0) cma.src_port = static_cast<uint16_t>(0x8000 | (id.mad.local_comm_id & 0x7fff));
  const auto put_ip = [](const udp::Address& a, std::array<uint8_t, 16>& out) {
    if (a.v6) std::memcpy(out.data(), a.ip.data(), 16);
    else std::memcpy(out.data() + 12, a.ip.data(), 4);
  };
  put_ip(src, cma.src_ip);
  put_ip(id.mad.peer, cma.dst_ip);
  const auto h = ibcm::encode_cma_header(cma);
  req.private_data.assign(h.begin(), h.end());
  req.private_data.insert(req.private_data.end(), id.req_private_data.begin(), id.req_private_data.end());
  if (req.private_data.size() > ibcm::private_data_size(ibcm::Attr::kReq)) {
    std::fprintf(stderr, "rfab-verbs: rdma_cm: private data longer than the %zu bytes a CM REQ holds after "
                         "rdma_cm's header; no REQ to the peer's CM\n",
                 ibcm::private_data_size(ibcm::Attr::kReq) - ibcm::kCmaHeaderSize);
    return;
  }
  id.mad.req_out = true;
  id.mad.answer_by_ns = now_ns() + kMadAnswerNs;
  send_reliably(id, req);
}

void mad_send(Id& id, const cm::Message& m) {
  switch (m.type) {
    case cm::Type::kReadyToUse: {
      ibcm::CmMad rtu = header(id, ibcm::Attr::kRtu);
      rtu.private_data = m.private_data;
      if (auto mad = ibcm::encode(rtu)) transmit(id, *mad);
      return;
    }
    case cm::Type::kReject: {
      ibcm::CmMad rej = header(id, ibcm::Attr::kRej);
      rej.message = id.mad.passive ? ibcm::kMsgReq : ibcm::kMsgRep;
      rej.private_data = m.private_data;
      rej.reason = m.reject_reason;
      if (auto mad = ibcm::encode(rej)) transmit(id, *mad);
      return;
    }
    case cm::Type::kDisconnect: {
      ibcm::CmMad dreq = header(id, ibcm::Attr::kDreq);
      dreq.remote_qpn = id.mad.remote_qpn;
      send_reliably(id, dreq);
      return;
    }
    case cm::Type::kReply: {
      ibcm::CmMad rep = header(id, ibcm::Attr::kRep);
      rep.local_qpn = m.qpn;
      rep.starting_psn = id.peer.psn;  // the PSN this end receives from (see got_req)
      rep.responder_resources = m.responder_resources;
      rep.initiator_depth = m.initiator_depth;
      rep.rnr_retry_count = m.rnr_retry_count;
      rep.srq = id.id.qp != nullptr && id.id.qp->srq != nullptr;
      ibv_device_attr da{};
      if (id.id.verbs != nullptr && ibv_query_device(id.id.verbs, &da) == 0) rep.local_ca_guid = be64toh(da.node_guid);
      rep.private_data = m.private_data;
      send_reliably(id, rep);  // until the RTU
      return;
    }
    case cm::Type::kRequest:
      return;  // mad_send_req's
  }
}

void mad_receive_all() {
  for (const gsi::Received& r : gsi::inbox().take()) received(r);
}

void mad_timers(int64_t now, int& timeout_ms) {
  for_each_id([&](Id& id) {
    if (!id.mad.resending) return;
    if (now >= id.mad.resend_at_ns) {
      if (id.mad.tries >= kMadMaxTries) {
        id.mad.resending = false;  // the REQ's fate is the connect's deadlines'; a DREQ is given up
        return;
      }
      ++id.mad.tries;
      id.mad.resend_at_ns = now + kMadResendNs;
      transmit(id, id.mad.pending);
    }
    timeout_ms = std::min<int>(timeout_ms, static_cast<int>(std::max<int64_t>(1, (id.mad.resend_at_ns - now) / 1'000'000)));
  });
}

void mad_goodbye(Id& id) {
  if (!id.mad.active) return;
  if (id.state == cm::State::kEstablished || id.state == cm::State::kRepReceived) {
    ibcm::CmMad dreq = header(id, ibcm::Attr::kDreq);
    dreq.remote_qpn = id.mad.remote_qpn;
    if (auto mad = ibcm::encode(dreq)) transmit(id, *mad);
  }
  id.mad = MadLink{};
}

}  // namespace rfab::uverbs::cma
