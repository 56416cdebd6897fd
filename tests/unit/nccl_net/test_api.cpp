// The plugin's entry points as NCCL calls them, in one process over loopback: bad arguments are refused
// with ncclInvalidArgument and a log line naming the problem; tags match; a peer that closes makes the
// waiting side fail within a bounded time; the shared library exports exactly the tables NCCL looks for.
#include <dlfcn.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdarg>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nccl_net_v8.h"
#include "plugin.hpp"
#include "rfab/base/env.hpp"

namespace rfab::ncclnet {
namespace {

std::mutex g_log_mu;
std::vector<std::string> g_log;

void capture(ncclDebugLogLevel level, unsigned long, const char*, int, const char* fmt, ...) {
  if (level != NCCL_LOG_WARN) return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::lock_guard<std::mutex> l(g_log_mu);
  g_log.emplace_back(buf);
}

// The last warning logged since the previous call.
std::string last_warning() {
  std::lock_guard<std::mutex> l(g_log_mu);
  std::string s = g_log.empty() ? "" : g_log.back();
  g_log.clear();
  return s;
}

#define EXPECT_INVALID(call, needle)                                        \
  do {                                                                      \
    last_warning();                                                         \
    EXPECT_EQ((call), ncclInvalidArgument);                                 \
    const std::string w = last_warning();                                   \
    EXPECT_NE(w.find(needle), std::string::npos) << "logged: '" << w << "'"; \
  } while (0)

class NcclNetApi : public ::testing::Test {
 protected:
  void SetUp() override {
    env::ScopedLookup env({{"RFAB_NCCL_IFACE", "=lo"}, {"RFAB_NCCL_TRANSPORT", "udp"}});
    ASSERT_EQ(net_init(capture), ncclSuccess) << last_warning();
  }

  // A send comm and the receive comm it reaches, both in this process (NCCL polls connect and accept).
  void connect_pair() {
    char handle[NCCL_NET_HANDLE_MAXSIZE] = {};
    ASSERT_EQ(net_listen(0, handle, &listen_), ncclSuccess) << last_warning();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (send_ == nullptr || recv_ == nullptr) {
      if (send_ == nullptr) {
        ASSERT_EQ(net_connect(0, handle, &send_, nullptr), ncclSuccess) << last_warning();
      }
      if (recv_ == nullptr) {
        ASSERT_EQ(net_accept(listen_, &recv_, nullptr), ncclSuccess) << last_warning();
      }
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "connect/accept did not finish";
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void TearDown() override {
    if (send_) {
      EXPECT_EQ(net_close_send(send_), ncclSuccess);
    }
    if (recv_) {
      EXPECT_EQ(net_close_recv(recv_), ncclSuccess);
    }
    if (listen_) {
      EXPECT_EQ(net_close_listen(listen_), ncclSuccess);
    }
  }

  // Tests `req` until done (or fails the test after 10 s).
  ncclResult_t wait(void* req, int* sizes) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (int done = 0; !done;) {
      const ncclResult_t r = net_test(req, &done, sizes);
      if (r != ncclSuccess) return r;
      if (std::chrono::steady_clock::now() > deadline) return ncclInternalError;
    }
    return ncclSuccess;
  }

  void* listen_ = nullptr;
  void* send_ = nullptr;
  void* recv_ = nullptr;
};

TEST_F(NcclNetApi, DevicesAndProperties) {
  int n = 0;
  ASSERT_EQ(net_devices(&n), ncclSuccess);
  ASSERT_EQ(n, 1);
  ncclNetProperties_v8_t p{};
  ASSERT_EQ(net_get_properties(0, &p), ncclSuccess);
  EXPECT_STREQ(p.name, "lo");
  EXPECT_EQ(p.ptrSupport, NCCL_PTR_HOST);
  EXPECT_EQ(p.maxRecvs, 8);
  EXPECT_EQ(p.netDeviceType, NCCL_NET_DEVICE_HOST);
  EXPECT_GT(p.speed, 0);
  EXPECT_INVALID(net_devices(nullptr), "ndev is NULL");
  EXPECT_INVALID(net_get_properties(1, &p), "no device 1 (devices are 0..0)");
  EXPECT_INVALID(net_get_properties(-1, &p), "no device -1");
  EXPECT_INVALID(net_get_properties(0, nullptr), "props is NULL");
}

TEST_F(NcclNetApi, RefusesBadHandlesAndComms) {
  char handle[NCCL_NET_HANDLE_MAXSIZE] = {};
  void* comm = nullptr;
  EXPECT_INVALID(net_connect(0, handle, &comm, nullptr), "bad magic");
  EXPECT_EQ(comm, nullptr);
  EXPECT_INVALID(net_connect(0, nullptr, &comm, nullptr), "handle or sendComm is NULL");
  EXPECT_INVALID(net_connect(3, handle, &comm, nullptr), "no device 3");
  EXPECT_INVALID(net_listen(0, nullptr, &comm), "handle or listenComm is NULL");
  EXPECT_INVALID(net_listen(7, handle, &comm), "no device 7");
  EXPECT_INVALID(net_accept(nullptr, &comm, nullptr), "not a listenComm");
  uint64_t garbage[32] = {};
  EXPECT_INVALID(net_accept(garbage, &comm, nullptr), "not a listenComm");
  EXPECT_INVALID(net_close_listen(garbage), "not a listenComm");
  EXPECT_INVALID(net_close_send(nullptr), "not a sendComm");
  EXPECT_INVALID(net_test(nullptr, nullptr, nullptr), "not an outstanding request");
  EXPECT_INVALID(net_test(garbage, nullptr, nullptr), "not an outstanding request");
}

TEST_F(NcclNetApi, RefusesBadArgumentsOnLiveComms) {
  connect_pair();
  std::vector<uint8_t> buf(4096);
  void* mh = nullptr;
  EXPECT_INVALID(net_reg_mr(send_, buf.data(), buf.size(), NCCL_PTR_CUDA, &mh), "only host memory");
  EXPECT_INVALID(net_reg_mr_dmabuf(send_, buf.data(), buf.size(), NCCL_PTR_DMABUF, 0, 3, &mh), "DMA-BUF");
  EXPECT_INVALID(net_reg_mr(nullptr, buf.data(), buf.size(), NCCL_PTR_HOST, &mh), "not a sendComm or recvComm");
  EXPECT_INVALID(net_reg_mr(send_, nullptr, 64, NCCL_PTR_HOST, &mh), "data is NULL");
  ASSERT_EQ(net_reg_mr(send_, buf.data(), buf.size(), NCCL_PTR_HOST, &mh), ncclSuccess);
  void* rmh = nullptr;
  ASSERT_EQ(net_reg_mr(recv_, buf.data(), buf.size(), NCCL_PTR_HOST, &rmh), ncclSuccess) << "the same buffer twice";
  void* req = nullptr;
  EXPECT_INVALID(net_isend(send_, buf.data(), -1, 1, mh, &req), "negative size -1");
  EXPECT_INVALID(net_isend(send_, buf.data() + 4000, 200, 1, mh, &req), "outside the registered region");
  EXPECT_INVALID(net_isend(send_, buf.data(), 64, 1, nullptr, &req), "no memory handle");
  EXPECT_INVALID(net_isend(send_, buf.data(), 64, 1, buf.data(), &req), "not a memory handle");
  EXPECT_INVALID(net_isend(send_, buf.data(), 64, 1, mh, nullptr), "request is NULL");
  EXPECT_INVALID(net_isend(recv_, buf.data(), 64, 1, mh, &req), "not a sendComm");
  void* data[9];
  int sizes[9], tags[9];
  void* mhs[9];
  for (int i = 0; i < 9; ++i) data[i] = buf.data(), sizes[i] = 16, tags[i] = i, mhs[i] = rmh;
  EXPECT_INVALID(net_irecv(recv_, 0, data, sizes, tags, mhs, &req), "0 receives");
  EXPECT_INVALID(net_irecv(recv_, 9, data, sizes, tags, mhs, &req), "9 receives in one call (1..8)");
  EXPECT_INVALID(net_irecv(recv_, 2, data, nullptr, tags, mhs, &req), "is NULL");
  sizes[1] = -5;
  EXPECT_INVALID(net_irecv(recv_, 2, data, sizes, tags, mhs, &req), "negative size -5 (receive 1)");
  sizes[1] = 16;
  mhs[1] = mh;  // registered through the other comm: the same device, so accepted
  data[1] = buf.data() + 4090;
  EXPECT_INVALID(net_irecv(recv_, 2, data, sizes, tags, mhs, &req), "outside the registered region (receive 1)");
  EXPECT_INVALID(net_irecv(send_, 1, data, sizes, tags, mhs, &req), "not a recvComm");
  EXPECT_INVALID(net_iflush(send_, 1, data, sizes, mhs, &req), "not a recvComm");
  EXPECT_INVALID(net_close_send(recv_), "not a sendComm");
  EXPECT_INVALID(net_close_recv(send_), "not a recvComm");
  EXPECT_INVALID(net_dereg_mr(send_, nullptr), "not a memory handle");
  EXPECT_EQ(net_dereg_mr(send_, mh), ncclSuccess);
  EXPECT_EQ(net_dereg_mr(recv_, rmh), ncclSuccess);
}

TEST_F(NcclNetApi, MatchesTagsAndReportsSizes) {
  connect_pair();
  std::vector<uint8_t> src(8192), dst(8192, 0xA5);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7 + 1);
  void *smh = nullptr, *rmh = nullptr;
  ASSERT_EQ(net_reg_mr(send_, src.data(), src.size(), NCCL_PTR_HOST, &smh), ncclSuccess);
  ASSERT_EQ(net_reg_mr(recv_, dst.data(), dst.size(), NCCL_PTR_HOST, &rmh), ncclSuccess);
  void* data[2] = {dst.data(), dst.data() + 4096};
  int sizes[2] = {4096, 100};
  int tags[2] = {11, 22};
  void* mhs[2] = {rmh, rmh};
  void* rreq = nullptr;
  ASSERT_EQ(net_irecv(recv_, 2, data, sizes, tags, mhs, &rreq), ncclSuccess);
  ASSERT_NE(rreq, nullptr);
  void* sreq = nullptr;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  // A tag nobody posted: no request, as NCCL expects when the peer is not ready.
  for (int k = 0; k < 100; ++k) {
    ASSERT_EQ(net_isend(send_, src.data(), 10, 33, smh, &sreq), ncclSuccess);
    ASSERT_EQ(sreq, nullptr);
  }
  // More than the matching receive posted: a usage error between the ranks.
  while (std::chrono::steady_clock::now() < deadline) {
    last_warning();
    const ncclResult_t r = net_isend(send_, src.data(), 101, 22, smh, &sreq);
    if (r != ncclSuccess) {
      EXPECT_EQ(r, ncclInvalidUsage);
      EXPECT_NE(last_warning().find("posted only 100 bytes"), std::string::npos);
      break;
    }
  }
  void* sreq2 = nullptr;
  ASSERT_EQ(net_isend(send_, src.data() + 1000, 77, 22, smh, &sreq2), ncclSuccess);  // second tag first
  ASSERT_NE(sreq2, nullptr);
  ASSERT_EQ(net_isend(send_, src.data(), 3000, 11, smh, &sreq), ncclSuccess);
  ASSERT_NE(sreq, nullptr);
  int got[2] = {-1, -1};
  ASSERT_EQ(wait(rreq, got), ncclSuccess);
  EXPECT_EQ(got[0], 3000);
  EXPECT_EQ(got[1], 77);
  int sent = -1;
  ASSERT_EQ(wait(sreq, &sent), ncclSuccess);
  EXPECT_EQ(sent, 3000);
  ASSERT_EQ(wait(sreq2, &sent), ncclSuccess);
  EXPECT_EQ(sent, 77);
  EXPECT_EQ(0, std::memcmp(dst.data(), src.data(), 3000));
  EXPECT_EQ(dst[3000], 0xA5) << "written past what was sent";
  EXPECT_EQ(0, std::memcmp(dst.data() + 4096, src.data() + 1000, 77));
  EXPECT_EQ(dst[4096 + 77], 0xA5);
  void* flush = &flush;
  EXPECT_EQ(net_iflush(recv_, 2, data, got, mhs, &flush), ncclSuccess);
  EXPECT_EQ(flush, nullptr) << "host memory needs no flush";
  EXPECT_INVALID(net_test(rreq, got, got), "not an outstanding request");  // already reported done
  EXPECT_EQ(net_dereg_mr(send_, smh), ncclSuccess);
  EXPECT_EQ(net_dereg_mr(recv_, rmh), ncclSuccess);
}

TEST_F(NcclNetApi, ZeroByteMessagesWithoutMemory) {
  connect_pair();
  void* data[1] = {nullptr};
  int sizes[1] = {0}, tags[1] = {5};
  void* mhs[1] = {nullptr};
  void *rreq = nullptr, *sreq = nullptr;
  ASSERT_EQ(net_irecv(recv_, 1, data, sizes, tags, mhs, &rreq), ncclSuccess);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (sreq == nullptr && std::chrono::steady_clock::now() < deadline)
    ASSERT_EQ(net_isend(send_, nullptr, 0, 5, nullptr, &sreq), ncclSuccess);
  ASSERT_NE(sreq, nullptr);
  int got = -1;
  ASSERT_EQ(wait(rreq, &got), ncclSuccess);
  EXPECT_EQ(got, 0);
  ASSERT_EQ(wait(sreq, &got), ncclSuccess);
}

TEST_F(NcclNetApi, ClosedPeerFailsTheWaiterWithinASecond) {
  connect_pair();
  std::vector<uint8_t> buf(1024);
  void* mh = nullptr;
  ASSERT_EQ(net_reg_mr(recv_, buf.data(), buf.size(), NCCL_PTR_HOST, &mh), ncclSuccess);
  void* data[1] = {buf.data()};
  int sizes[1] = {1024}, tags[1] = {1};
  void* mhs[1] = {mh};
  void* rreq = nullptr;
  ASSERT_EQ(net_irecv(recv_, 1, data, sizes, tags, mhs, &rreq), ncclSuccess);
  ASSERT_EQ(net_close_send(send_), ncclSuccess);  // the sender goes away before sending
  send_ = nullptr;
  const auto start = std::chrono::steady_clock::now();
  int done = 0;
  ncclResult_t r = ncclSuccess;
  while (r == ncclSuccess && !done && std::chrono::steady_clock::now() - start < std::chrono::seconds(5))
    r = net_test(rreq, &done, nullptr);
  EXPECT_EQ(r, ncclRemoteError);
  EXPECT_FALSE(done);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_NE(last_warning().find("side-channel connection ended"), std::string::npos);
  // Sticky: the comm stays failed.
  void* again = nullptr;
  EXPECT_EQ(net_irecv(recv_, 1, data, sizes, tags, mhs, &again), ncclRemoteError);
  EXPECT_EQ(net_dereg_mr(recv_, mh), ncclSuccess);
}

TEST(NcclNetLibrary, ExportsTheTablesNcclLooksFor) {
  void* lib = dlopen(RFAB_NCCL_NET_PLUGIN, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr) << dlerror();
  const auto* v8 = static_cast<const ncclNet_v8_t*>(dlsym(lib, "ncclNetPlugin_v8"));
  const auto* v7 = static_cast<const ncclNet_v7_t*>(dlsym(lib, "ncclNetPlugin_v7"));
  const auto* v6 = static_cast<const ncclNet_v6_t*>(dlsym(lib, "ncclNetPlugin_v6"));
  ASSERT_TRUE(v8 && v7 && v6);
  EXPECT_STREQ(v8->name, "rfab");
  EXPECT_STREQ(v7->name, "rfab");
  EXPECT_STREQ(v6->name, "rfab");
  EXPECT_TRUE(v8->init && v8->devices && v8->getProperties && v8->listen && v8->connect && v8->accept && v8->regMr &&
              v8->regMrDmaBuf && v8->deregMr && v8->isend && v8->irecv && v8->iflush && v8->test && v8->closeSend &&
              v8->closeRecv && v8->closeListen);
  EXPECT_EQ(v8->getDeviceMr, nullptr) << "a host plugin offers no device offload";
  EXPECT_EQ(v8->irecvConsumed, nullptr);
  // Nothing of rfab's C++ leaks into the dynamic symbol table.
  EXPECT_EQ(dlsym(lib, "_ZN4rfab8ncclnet8net_initEPFv17ncclDebugLogLevelmPKciS3_zE"), nullptr);
  dlclose(lib);
}

}  // namespace
}  // namespace rfab::ncclnet
