#include "rfab/pcap/pcap_file.hpp"

#include <pcap/pcap.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <stdexcept>

namespace rfab::pcap {

struct Reader::Impl {
  pcap_t* p = nullptr;
};

Reader::Reader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  char err[PCAP_ERRBUF_SIZE] = {};
  impl_->p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  if (impl_->p == nullptr) throw std::runtime_error(path + ": " + err);
  dlt_ = pcap_datalink(impl_->p);
  switch (dlt_) {
    case DLT_EN10MB: case DLT_RAW: case DLT_IPV4: case DLT_IPV6: case DLT_LINUX_SLL: case DLT_LINUX_SLL2: break;
    default:
      pcap_close(impl_->p);
      impl_->p = nullptr;
      throw std::runtime_error(path + ": unsupported link type " + std::to_string(dlt_) +
                               " (need Ethernet, raw IP or Linux cooked capture)");
  }
}

Reader::~Reader() {
  if (impl_ && impl_->p) pcap_close(impl_->p);
}

std::string Reader::datalink_name() const {
  const char* n = pcap_datalink_val_to_name(dlt_);
  return n ? n : std::to_string(dlt_);
}

void Reader::set_filter(const std::string& expression) {
  struct bpf_program prog {};
  if (pcap_compile(impl_->p, &prog, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
    throw std::runtime_error("bad filter '" + expression + "': " + pcap_geterr(impl_->p));
  int rc = pcap_setfilter(impl_->p, &prog);
  pcap_freecode(&prog);
  if (rc != 0) throw std::runtime_error("cannot apply filter '" + expression + "': " + pcap_geterr(impl_->p));
}

bool Reader::next(Record& out) {
  struct pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  int rc = pcap_next_ex(impl_->p, &h, &data);
  if (rc == PCAP_ERROR_BREAK) return false;
  if (rc != 1) throw std::runtime_error(std::string("pcap read error: ") + pcap_geterr(impl_->p));
  out.time_ns = uint64_t(h->ts.tv_sec) * 1000000000ull + uint64_t(h->ts.tv_usec);  // nano precision
  out.data = std::span<const uint8_t>(data, h->caplen);
  out.wire_len = h->len;
  out.l2_skip = 0;
  out.link = wire::LinkType::raw_ip;
  switch (dlt_) {
    case DLT_EN10MB: out.link = wire::LinkType::ethernet; break;
    case DLT_LINUX_SLL: out.l2_skip = 16; break;
    case DLT_LINUX_SLL2: out.l2_skip = 20; break;
    default: break;
  }
  if (out.l2_skip > out.data.size()) out.l2_skip = out.data.size();
  return true;
}

struct Writer::Impl {
  pcap_t* dead = nullptr;
  pcap_dumper_t* d = nullptr;
  std::string path;

  // pcap_dump() reports nothing: the stdio stream underneath carries the error (ENOSPC on a full disk).
  [[noreturn]] void fail() const { throw std::runtime_error(path + ": write failed: " + std::strerror(errno)); }
};

Writer::Writer(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 262144, PCAP_TSTAMP_PRECISION_NANO);
  if (!impl_->dead) throw std::runtime_error("pcap_open_dead failed");
  impl_->d = pcap_dump_open(impl_->dead, path.c_str());
  if (!impl_->d) {
    std::string e = pcap_geterr(impl_->dead);
    pcap_close(impl_->dead);
    impl_->dead = nullptr;
    throw std::runtime_error(path + ": " + e);
  }
}

Writer::~Writer() {
  if (impl_->d) pcap_dump_close(impl_->d);
  if (impl_->dead) pcap_close(impl_->dead);
}

void Writer::write(uint64_t time_ns, std::span<const uint8_t> frame) {
  struct pcap_pkthdr h {};
  h.ts.tv_sec = static_cast<time_t>(time_ns / 1000000000ull);
  h.ts.tv_usec = static_cast<suseconds_t>(time_ns % 1000000000ull);  // nanoseconds with nano precision
  h.caplen = h.len = static_cast<bpf_u_int32>(frame.size());
  if (!impl_->d) throw std::runtime_error(impl_->path + ": write after close");
  pcap_dump(reinterpret_cast<u_char*>(impl_->d), &h, frame.data());
  if (std::ferror(pcap_dump_file(impl_->d))) impl_->fail();
}

void Writer::flush() {
  if (!impl_->d) return;
  if (pcap_dump_flush(impl_->d) != 0 || std::ferror(pcap_dump_file(impl_->d))) impl_->fail();
}

void Writer::close() {
  if (!impl_->d) return;
  flush();
  FILE* f = pcap_dump_file(impl_->d);
  // fclose() may report what the last write-back hit; pcap_dump_close() would drop that status.
  errno = 0;
  const int fd = fileno(f);
  const bool synced = fd < 0 || fsync(fd) == 0 || errno == EINVAL || errno == EROFS;
  const int saved = errno;
  pcap_dump_close(impl_->d);
  impl_->d = nullptr;
  if (!synced) {
    errno = saved;
    impl_->fail();
  }
}

}  // namespace rfab::pcap
