#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "engine/passphrase.h"

extern char** environ;

namespace ecert {
namespace {

PassphraseSource env_source(const std::string& name) {
  PassphraseSource source;
  source.kind = PassphraseSource::Kind::kEnv;
  source.env = name;
  return source;
}

bool environ_mentions(const std::string& text) {
  for (char** entry = environ; entry && *entry; ++entry)
    if (std::strstr(*entry, text.c_str())) return true;
  return false;
}

}  // namespace

TEST_CASE("a captured passphrase leaves the environment and load_passphrase still returns it") {
  MemoryFileSystem fs;
  ::setenv("ECERT_PASS_TEST_CAPTURED", "captured secret 1", 1);
  capture_env_passphrases({"ECERT_PASS_TEST_CAPTURED"});
  CHECK(std::getenv("ECERT_PASS_TEST_CAPTURED") == nullptr);
  CHECK_FALSE(environ_mentions("ECERT_PASS_TEST_CAPTURED"));
  CHECK_FALSE(environ_mentions("captured secret 1"));
  for (int i = 0; i < 2; ++i) {  // read as often as the engine needs it
    auto p = load_passphrase(env_source("ECERT_PASS_TEST_CAPTURED"), fs);
    REQUIRE(p.is_ok());
    CHECK(p->expose() == "captured secret 1");
  }
  // The first value stays; one set again later is taken out of the environment too.
  ::setenv("ECERT_PASS_TEST_CAPTURED", "captured secret 2", 1);
  capture_env_passphrases({"ECERT_PASS_TEST_CAPTURED"});
  CHECK(std::getenv("ECERT_PASS_TEST_CAPTURED") == nullptr);
  CHECK(load_passphrase(env_source("ECERT_PASS_TEST_CAPTURED"), fs)->expose() == "captured secret 1");
}

TEST_CASE("capture overwrites the value's bytes where the environment kept them") {
  // putenv() puts this very buffer into the environment, as the kernel puts
  // the strings ecertctl starts with (what /proc/<pid>/environ shows).
  static char entry[] = "ECERT_PASS_TEST_WIPED=wiped secret";
  REQUIRE(::putenv(entry) == 0);
  capture_env_passphrases({"ECERT_PASS_TEST_WIPED"});
  CHECK(std::string(entry) == "ECERT_PASS_TEST_WIPED=");
  CHECK(std::getenv("ECERT_PASS_TEST_WIPED") == nullptr);
  MemoryFileSystem fs;
  CHECK(load_passphrase(env_source("ECERT_PASS_TEST_WIPED"), fs)->expose() == "wiped secret");
}

TEST_CASE("a variable that was not set when captured is an error saying what to do") {
  MemoryFileSystem fs;
  ::unsetenv("ECERT_PASS_TEST_UNSET");
  capture_env_passphrases({"ECERT_PASS_TEST_UNSET"});
  ::setenv("ECERT_PASS_TEST_UNSET", "too late", 1);
  auto p = load_passphrase(env_source("ECERT_PASS_TEST_UNSET"), fs);
  REQUIRE_FALSE(p.is_ok());
  CHECK(p.status().message() ==
        "environment variable ECERT_PASS_TEST_UNSET (the key passphrase) is not set; export it before running "
        "ecertctl");
  ::unsetenv("ECERT_PASS_TEST_UNSET");

  ::setenv("ECERT_PASS_TEST_EMPTY", "", 1);
  capture_env_passphrases({"ECERT_PASS_TEST_EMPTY"});
  CHECK(load_passphrase(env_source("ECERT_PASS_TEST_EMPTY"), fs).status().message() ==
        "environment variable ECERT_PASS_TEST_EMPTY (the key passphrase) is empty");
}

TEST_CASE("a name never captured is read from the environment as it is now") {
  MemoryFileSystem fs;
  ::setenv("ECERT_PASS_TEST_LIVE", "live one", 1);
  CHECK(load_passphrase(env_source("ECERT_PASS_TEST_LIVE"), fs)->expose() == "live one");
  ::setenv("ECERT_PASS_TEST_LIVE", "live two", 1);
  CHECK(load_passphrase(env_source("ECERT_PASS_TEST_LIVE"), fs)->expose() == "live two");
  ::unsetenv("ECERT_PASS_TEST_LIVE");
}

TEST_CASE("captured passphrases are read from several threads at once") {
  ::setenv("ECERT_PASS_TEST_THREADS", "threaded secret", 1);
  capture_env_passphrases({"ECERT_PASS_TEST_THREADS"});
  MemoryFileSystem fs;
  std::vector<int> good(8, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < good.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto p = load_passphrase(env_source("ECERT_PASS_TEST_THREADS"), fs);
        if (p.is_ok() && p->expose() == "threaded secret") ++good[t];
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int n : good) CHECK(n == 200);
}

TEST_CASE("passphrase_env_names lists each variable the keys use once") {
  Manifest m;
  auto add = [&](PassphraseSource::Kind kind, const std::string& env) {
    Site s;
    s.key.passphrase.kind = kind;
    s.key.passphrase.env = env;
    m.sites.push_back(s);
  };
  add(PassphraseSource::Kind::kEnv, "PASS_B");
  add(PassphraseSource::Kind::kEnv, "PASS_A");
  add(PassphraseSource::Kind::kEnv, "PASS_B");
  add(PassphraseSource::Kind::kFile, "");
  add(PassphraseSource::Kind::kNone, "");
  CHECK(passphrase_env_names(m) == std::vector<std::string>{"PASS_A", "PASS_B"});
}

}  // namespace ecert
