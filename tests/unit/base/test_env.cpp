// Typed environment configuration (rfab/base/env.hpp) through an injected lookup.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "rfab/base/env.hpp"

namespace rfab::env {
namespace {

using Vars = std::map<std::string, std::string>;

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const EnvError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Env, InjectedLookupReplacesTheProcessEnvironment) {
  ::setenv("RFAB_HOSTNAME", "from-process", 1);
  {
    ScopedLookup env(Vars{{"RFAB_JOB_ID", "job7"}});
    EXPECT_EQ(get_string("RFAB_JOB_ID"), "job7");
    EXPECT_EQ(get_string("RFAB_HOSTNAME"), std::nullopt);  // exactly the map, nothing else
    EXPECT_EQ(raw("RFAB_HOSTNAME"), nullptr);
  }
  EXPECT_EQ(get_string("RFAB_HOSTNAME"), "from-process");
  ::unsetenv("RFAB_HOSTNAME");
}

TEST(Env, EmptyIsUnset) {
  ScopedLookup env(Vars{{"RFAB_JOB_ID", ""}, {"RFAB_SHM", ""}});
  EXPECT_FALSE(is_set("RFAB_JOB_ID"));
  EXPECT_EQ(get_string("RFAB_JOB_ID"), std::nullopt);
  EXPECT_EQ(get_bool("RFAB_SHM"), std::nullopt);
  EXPECT_NE(raw("RFAB_JOB_ID"), nullptr);  // raw() still tells the two apart
}

TEST(Env, Bools) {
  for (const char* t : {"1", "on", "yes", "true"}) {
    ScopedLookup env(Vars{{"RFAB_SHM", t}});
    EXPECT_EQ(get_bool("RFAB_SHM"), true) << t;
  }
  for (const char* f : {"0", "off", "no", "false"}) {
    ScopedLookup env(Vars{{"RFAB_SHM", f}});
    EXPECT_EQ(get_bool("RFAB_SHM"), false) << f;
  }
  ScopedLookup env(Vars{{"RFAB_SHM", "maybe"}});
  EXPECT_EQ(error_of([] { get_bool("RFAB_SHM"); }), "RFAB_SHM='maybe': expected 0/1, on/off, yes/no or true/false");
}

TEST(Env, UnsignedWithRange) {
  ScopedLookup env(Vars{{"RFAB_SPIN_US", "250"}, {"RFAB_ROCE_PORT", "70000"}, {"RFAB_ROCE_MTU", "-1"},
                    {"RFAB_SHM_MSG_PHASE", "99999999999999999999"}});
  EXPECT_EQ(get_unsigned("RFAB_SPIN_US", 0, 1000000), 250u);
  const std::string m = error_of([] { get_unsigned("RFAB_ROCE_PORT", 1, 65535); });
  EXPECT_EQ(m, "RFAB_ROCE_PORT='70000': out of range: expected an integer in [1, 65535]");
  EXPECT_NE(error_of([] { get_unsigned("RFAB_ROCE_MTU"); }).find("negative"), std::string::npos);
  EXPECT_NE(error_of([] { get_unsigned("RFAB_SHM_MSG_PHASE"); }).find("RFAB_SHM_MSG_PHASE"), std::string::npos);
  EXPECT_EQ(get_unsigned("RFAB_ROCE_WRITE_BYTES"), std::nullopt);
}

TEST(Env, SizesDurationsChoices) {
  ScopedLookup env(Vars{{"RFAB_SHM_RING_BYTES", "64K"},
                    {"RFAB_ROCE_RING_BYTES", "1T"},
                    {"RFAB_TIMEOUT", "1500ms"},
                    {"RFAB_ISA", "avx2"},
                    {"RFAB_PROTO", "fast"}});
  EXPECT_EQ(get_size("RFAB_SHM_RING_BYTES"), 65536u);
  EXPECT_NE(error_of([] { get_size("RFAB_ROCE_RING_BYTES", 0, 1 << 30); }).find("out of range"), std::string::npos);
  EXPECT_EQ(get_duration("RFAB_TIMEOUT"), 1500000000u);
  EXPECT_EQ(get_choice("RFAB_ISA", {"generic", "avx2", "avx512"}), "avx2");
  EXPECT_EQ(error_of([] { get_choice("RFAB_PROTO", {"LL", "Simple"}); }), "RFAB_PROTO='fast': expected one of LL, Simple");
}

TEST(Env, ErrorsAreParseErrors) {
  ScopedLookup env(Vars{{"RFAB_SHM", "2"}});
  EXPECT_THROW(get_bool("RFAB_SHM"), ParseError);
  EXPECT_THROW(get_bool("RFAB_SHM"), std::invalid_argument);
}

TEST(Env, UnregisteredNamesAreAProgrammingError) {
  EXPECT_THROW(raw("RFAB_NOT_A_VARIABLE"), std::logic_error);
  EXPECT_THROW(get_string("HOME"), std::logic_error);
}

TEST(Env, RegistryIsWellFormed) {
  std::set<std::string> names;
  for (const Var& v : registry()) {
    EXPECT_TRUE(names.insert(v.name).second) << v.name << " listed twice";
    EXPECT_NE(std::string(v.type), "") << v.name;
    EXPECT_NE(std::string(v.default_value), "") << v.name;
    EXPECT_NE(std::string(v.component), "") << v.name;
    EXPECT_NE(std::string(v.meaning), "") << v.name;
    EXPECT_EQ(find(v.name), &v);
  }
  EXPECT_EQ(find("RFAB_NOT_A_VARIABLE"), nullptr);
}

}  // namespace
}  // namespace rfab::env
