// The interposed librdmacm calls in-process on the loopback device (the address test_verbs_loopback.cpp's
// environment chooses): a listener and a client in one process connect through the CM exchange, with
// private data and depths both ways, a SEND over the connected QPs, and a disconnect both ends see; a
// rejection and a port nobody listens on reach the client as REJECTED with their reasons; calls in the
// wrong state and addresses no device owns fail with errno; rdma_getaddrinfo fills source or destination.
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <rdma/rdma_cma.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>

namespace {

// Waits up to 5 s for the channel's next event.
rdma_cm_event* next_event(rdma_event_channel* ch) {
  pollfd p{ch->fd, POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) return nullptr;
  rdma_cm_event* e = nullptr;
  return rdma_get_cm_event(ch, &e) == 0 ? e : nullptr;
}

// The device's IPv4 address (from its IPv4-mapped GID) and port `port`.
sockaddr_in device_address(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  int n = 0;
  ibv_context** ctxs = rdma_get_devices(&n);
  if (ctxs != nullptr && n == 1) {
    ibv_gid g{};
    if (ibv_query_gid(ctxs[0], 1, 0, &g) == 0) std::memcpy(&a.sin_addr, &g.raw[12], 4);
  }
  rdma_free_devices(ctxs);
  return a;
}

std::string text(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }

struct Side {
  rdma_cm_id* id = nullptr;
  ibv_pd* pd = nullptr;
  ibv_cq* cq = nullptr;
  char buf[256] = {};
  ibv_mr* mr = nullptr;

  // PD, CQ, MR and an RC QP through rdma_create_qp, with one receive posted.
  bool setup(rdma_cm_id* on) {
    id = on;
    pd = ibv_alloc_pd(id->verbs);
    cq = ibv_create_cq(id->verbs, 16, nullptr, nullptr, 0);
    mr = ibv_reg_mr(pd, buf, sizeof buf, IBV_ACCESS_LOCAL_WRITE);
    ibv_qp_init_attr a{};
    a.send_cq = a.recv_cq = cq;
    a.qp_type = IBV_QPT_RC;
    a.cap.max_send_wr = a.cap.max_recv_wr = 8;
    a.cap.max_send_sge = a.cap.max_recv_sge = 1;
    if (pd == nullptr || cq == nullptr || mr == nullptr || rdma_create_qp(id, pd, &a) != 0) return false;
    ibv_sge sge{reinterpret_cast<uintptr_t>(buf), sizeof buf, mr->lkey};
    ibv_recv_wr wr{};
    wr.sg_list = &sge;
    wr.num_sge = 1;
    ibv_recv_wr* bad = nullptr;
    return ibv_post_recv(id->qp, &wr, &bad) == 0;
  }
  ~Side() {
    if (id != nullptr && id->qp != nullptr) rdma_destroy_qp(id);
    if (mr != nullptr) ibv_dereg_mr(mr);
    if (cq != nullptr) ibv_destroy_cq(cq);
    if (pd != nullptr) ibv_dealloc_pd(pd);
    if (id != nullptr) rdma_destroy_id(id);
  }
};

// A listener on the device address (port chosen by the kernel) and a client id routed to it.
struct Pair {
  rdma_event_channel* ch = rdma_create_event_channel();
  rdma_cm_id* listener = nullptr;
  rdma_cm_id* client = nullptr;
  sockaddr_in to{};

  bool listen_and_route() {
    if (ch == nullptr || rdma_create_id(ch, &listener, nullptr, RDMA_PS_TCP) != 0) return false;
    sockaddr_in here = device_address(0);
    if (rdma_bind_addr(listener, reinterpret_cast<sockaddr*>(&here)) != 0 || rdma_listen(listener, 4) != 0)
      return false;
    to = here;
    to.sin_port = rdma_get_src_port(listener);
    if (to.sin_port == 0 || rdma_create_id(ch, &client, nullptr, RDMA_PS_TCP) != 0) return false;
    if (rdma_resolve_addr(client, nullptr, reinterpret_cast<sockaddr*>(&to), 2000) != 0) return false;
    rdma_cm_event* e = next_event(ch);
    if (e == nullptr || e->event != RDMA_CM_EVENT_ADDR_RESOLVED) return false;
    rdma_ack_cm_event(e);
    if (rdma_resolve_route(client, 2000) != 0) return false;
    e = next_event(ch);
    if (e == nullptr || e->event != RDMA_CM_EVENT_ROUTE_RESOLVED) return false;
    rdma_ack_cm_event(e);
    return client->verbs != nullptr && client->route.num_paths == 1;
  }
  ~Pair() {
    if (listener != nullptr) rdma_destroy_id(listener);
    if (ch != nullptr) rdma_destroy_event_channel(ch);
  }
};

}  // namespace

TEST(RdmaCmLoopback, ConnectAcceptSendAndDisconnect) {
  Pair p;
  ASSERT_TRUE(p.listen_and_route());
  Side client;
  ASSERT_TRUE(client.setup(p.client));
  p.client = nullptr;  // Side owns it now
  EXPECT_EQ(client.id->qp->state, IBV_QPS_INIT);

  rdma_conn_param cp{};
  cp.private_data = "hello";
  cp.private_data_len = 5;
  cp.responder_resources = 2;
  cp.initiator_depth = 3;
  cp.retry_count = 7;
  cp.rnr_retry_count = 7;
  ASSERT_EQ(rdma_connect(client.id, &cp), 0);

  rdma_cm_event* e = next_event(p.ch);
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->event, RDMA_CM_EVENT_CONNECT_REQUEST) << rdma_event_str(e->event);
  EXPECT_EQ(e->listen_id, p.listener);
  EXPECT_EQ(text(e->param.conn.private_data, e->param.conn.private_data_len), "hello");
  EXPECT_EQ(e->param.conn.responder_resources, 3);  // what the client will issue, this end serves
  EXPECT_EQ(e->param.conn.initiator_depth, 2);
  EXPECT_EQ(e->param.conn.qp_num, client.id->qp->qp_num);
  Side server;
  ASSERT_TRUE(server.setup(e->id));
  EXPECT_NE(server.id->verbs, nullptr);
  rdma_ack_cm_event(e);

  rdma_conn_param ap{};
  ap.private_data = "world!";
  ap.private_data_len = 6;
  ap.responder_resources = 3;
  ap.initiator_depth = 2;
  ASSERT_EQ(rdma_accept(server.id, &ap), 0);
  EXPECT_EQ(server.id->qp->state, IBV_QPS_RTS);

  bool client_up = false, server_up = false;
  for (int i = 0; i < 2; ++i) {
    e = next_event(p.ch);
    ASSERT_NE(e, nullptr);
    ASSERT_EQ(e->event, RDMA_CM_EVENT_ESTABLISHED) << rdma_event_str(e->event);
    if (e->id == client.id) {
      client_up = true;
      EXPECT_EQ(text(e->param.conn.private_data, e->param.conn.private_data_len), "world!");
    } else {
      server_up = e->id == server.id;
    }
    rdma_ack_cm_event(e);
  }
  EXPECT_TRUE(client_up && server_up);

  ibv_qp_attr qa{};
  ibv_qp_init_attr qi{};
  ASSERT_EQ(ibv_query_qp(client.id->qp, &qa, 0, &qi), 0);
  EXPECT_EQ(qa.qp_state, IBV_QPS_RTS);
  EXPECT_EQ(qa.dest_qp_num, server.id->qp->qp_num);
  EXPECT_EQ(qa.max_rd_atomic, 3);        // the client issues 3, the server serves 3
  EXPECT_EQ(qa.max_dest_rd_atomic, 2);   // and serves 2 of the server's 2

  // A SEND over the connection rdma_cm set up.
  std::strcpy(client.buf, "over rdma_cm");
  ibv_sge sge{reinterpret_cast<uintptr_t>(client.buf), 13, client.mr->lkey};
  ibv_send_wr wr{};
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_SEND;
  wr.send_flags = IBV_SEND_SIGNALED;
  ibv_send_wr* bad = nullptr;
  ASSERT_EQ(ibv_post_send(client.id->qp, &wr, &bad), 0);
  ibv_wc wc{};
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int got = 0;
  while (got == 0 && std::chrono::steady_clock::now() < end) {
    ibv_wc c{};
    if (ibv_poll_cq(client.cq, 1, &c) == 1) {
      EXPECT_EQ(c.status, IBV_WC_SUCCESS);
    }
    got = ibv_poll_cq(server.cq, 1, &wc);
  }
  ASSERT_EQ(got, 1);
  EXPECT_EQ(wc.status, IBV_WC_SUCCESS);
  EXPECT_EQ(wc.opcode, IBV_WC_RECV);
  EXPECT_STREQ(server.buf, "over rdma_cm");

  ASSERT_EQ(rdma_disconnect(client.id), 0);
  EXPECT_EQ(client.id->qp->state, IBV_QPS_ERR);
  bool client_down = false, server_down = false;
  for (int i = 0; i < 2; ++i) {
    e = next_event(p.ch);
    ASSERT_NE(e, nullptr);
    ASSERT_EQ(e->event, RDMA_CM_EVENT_DISCONNECTED) << rdma_event_str(e->event);
    (e->id == client.id ? client_down : server_down) = true;
    rdma_ack_cm_event(e);
  }
  EXPECT_TRUE(client_down && server_down);
  EXPECT_EQ(rdma_disconnect(server.id), 0);  // after the peer's: accepted, no second event
  pollfd pf{p.ch->fd, POLLIN, 0};
  EXPECT_EQ(::poll(&pf, 1, 100), 0);
}

TEST(RdmaCmLoopback, RejectReachesTheClientWithReasonAndPrivateData) {
  Pair p;
  ASSERT_TRUE(p.listen_and_route());
  Side client;
  ASSERT_TRUE(client.setup(p.client));
  p.client = nullptr;
  ASSERT_EQ(rdma_connect(client.id, nullptr), 0);
  rdma_cm_event* e = next_event(p.ch);
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->event, RDMA_CM_EVENT_CONNECT_REQUEST);
  rdma_cm_id* child = e->id;
  rdma_ack_cm_event(e);
  ASSERT_EQ(rdma_reject(child, "busy", 4), 0);
  e = next_event(p.ch);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->event, RDMA_CM_EVENT_REJECTED) << rdma_event_str(e->event);
  EXPECT_EQ(e->id, client.id);
  EXPECT_EQ(e->status, 28);  // IBTA consumer reject
  EXPECT_EQ(text(e->param.conn.private_data, e->param.conn.private_data_len), "busy");
  rdma_ack_cm_event(e);
  EXPECT_EQ(rdma_accept(child, nullptr), -1);  // rejected already
  EXPECT_EQ(errno, EINVAL);
  rdma_destroy_id(child);
}

TEST(RdmaCmLoopback, NobodyListeningIsRejectedWithInvalidServiceId) {
  Pair p;
  ASSERT_TRUE(p.listen_and_route());
  Side client;
  ASSERT_TRUE(client.setup(p.client));
  p.client = nullptr;
  rdma_destroy_id(p.listener);  // its port closes
  p.listener = nullptr;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(rdma_connect(client.id, nullptr), 0);
  rdma_cm_event* e = next_event(p.ch);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->event, RDMA_CM_EVENT_REJECTED) << rdma_event_str(e->event);
  EXPECT_EQ(e->status, 8);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  rdma_ack_cm_event(e);
}

TEST(RdmaCmLoopback, CallsInTheWrongStateOrForForeignAddressesFail) {
  rdma_event_channel* ch = rdma_create_event_channel();
  ASSERT_NE(ch, nullptr);
  rdma_cm_id* id = nullptr;
  ASSERT_EQ(rdma_create_id(ch, &id, nullptr, RDMA_PS_TCP), 0);
  EXPECT_EQ(rdma_connect(id, nullptr), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(rdma_listen(id, 1), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(rdma_resolve_route(id, 100), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(rdma_disconnect(id), -1);
  EXPECT_EQ(errno, EINVAL);
  sockaddr_in foreign{};
  foreign.sin_family = AF_INET;
  inet_pton(AF_INET, "198.51.100.7", &foreign.sin_addr);  // TEST-NET-2: on no device here
  EXPECT_EQ(rdma_bind_addr(id, reinterpret_cast<sockaddr*>(&foreign)), -1);
  EXPECT_EQ(errno, EADDRNOTAVAIL);
  rdma_cm_id* other = nullptr;
  ASSERT_EQ(rdma_create_id(ch, &other, nullptr, RDMA_PS_UDP), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  // A destination whose route leaves from an address no device owns (or that has no route at all).
  ASSERT_EQ(rdma_resolve_addr(id, nullptr, reinterpret_cast<sockaddr*>(&foreign), 100), 0);
  rdma_cm_event* e = next_event(ch);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->event, RDMA_CM_EVENT_ADDR_ERROR) << rdma_event_str(e->event);
  EXPECT_LT(e->status, 0);
  rdma_ack_cm_event(e);
  EXPECT_EQ(rdma_destroy_id(id), 0);
  rdma_destroy_event_channel(ch);
}

TEST(RdmaCmLoopback, GetaddrinfoFillsSourceOrDestination) {
  rdma_addrinfo hints{};
  hints.ai_flags = RAI_PASSIVE | RAI_NUMERICHOST;
  hints.ai_family = AF_INET;
  rdma_addrinfo* res = nullptr;
  ASSERT_EQ(rdma_getaddrinfo("127.0.0.1", "7471", &hints, &res), 0);
  ASSERT_NE(res->ai_src_addr, nullptr);
  EXPECT_EQ(res->ai_dst_addr, nullptr);
  EXPECT_EQ(ntohs(reinterpret_cast<sockaddr_in*>(res->ai_src_addr)->sin_port), 7471);
  EXPECT_EQ(res->ai_port_space, RDMA_PS_TCP);
  EXPECT_EQ(res->ai_qp_type, IBV_QPT_RC);
  rdma_freeaddrinfo(res);

  hints.ai_flags = RAI_NUMERICHOST;
  ASSERT_EQ(rdma_getaddrinfo("127.0.0.1", "18515", &hints, &res), 0);
  ASSERT_NE(res->ai_dst_addr, nullptr);
  EXPECT_EQ(res->ai_dst_len, sizeof(sockaddr_in));
  rdma_freeaddrinfo(res);

  EXPECT_NE(rdma_getaddrinfo("not-an-address", "1", &hints, &res), 0);
  EXPECT_STREQ(rdma_event_str(RDMA_CM_EVENT_ESTABLISHED), "RDMA_CM_EVENT_ESTABLISHED");
}
