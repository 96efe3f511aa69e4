// The installed-state record: written entry by entry, read event by event,
// and still the JSON document earlier versions wrote and read.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "engine/installed.h"

namespace ecert {
namespace {

TEST_CASE("installed state: rendered as json dump(2) would, and read back") {
  InstalledState state;
  CHECK(render_installed(state) == nlohmann::json({{"format_version", "1"}, {"sites", nlohmann::json::object()}}).dump(2) + "\n");
  state["www.example.com"] = {"k1", "c1", "ch1"};
  state["*.example.org"] = {"k2", "c2", ""};
  state["we\"ird\\name"] = {"k3", "", "ch3"};
  nlohmann::json sites = nlohmann::json::object();
  for (const auto& [name, r] : state) sites[name] = {{"key", r.key}, {"certificate", r.certificate}, {"chain", r.chain}};
  const std::string text = render_installed(state);
  CHECK(text == nlohmann::json({{"format_version", "1"}, {"sites", sites}}).dump(2) + "\n");

  MemoryFileSystem fs;
  fs.add_file("/state/installed.json", text);
  CHECK(read_installed(fs, "/state") == state);
  // Unknown fields and other shapes are skipped.
  fs.add_file("/state/installed.json",
              R"({"extra": {"key": "x"}, "sites": {"a": {"key": "k", "note": [1, "s"], "chain": "ch"}, "b": 5}})");
  InstalledState read = read_installed(fs, "/state");
  REQUIRE(read.size() == 1);
  CHECK(read["a"] == InstalledRecord{"k", "", "ch"});
  // A file cut short, or none at all: no record (the next run rewrites it).
  fs.add_file("/state/installed.json", text.substr(0, text.size() / 2));
  CHECK(read_installed(fs, "/state").empty());
  CHECK(read_installed(fs, "/nowhere").empty());
}

TEST_CASE("installed state: read as the JSON document says it (found by fuzz_installed)") {
  // A member given twice counts as the later one, as json::parse reads it.
  CHECK(parse_installed(R"({"sites": {"a": {"key": "1"}}, "sites": {"b": {"key": "2"}}})") ==
        InstalledState{{"b", InstalledRecord{"2", "", ""}}});
  CHECK(parse_installed(R"({"sites": {"a": {"key": "1"}, "a": {"chain": "3"}}})") ==
        InstalledState{{"a", InstalledRecord{"", "", "3"}}});
  CHECK(parse_installed(R"({"sites": {"a": {"key": "1", "key": "2"}, "a": "chain"}})").empty());
  // "sites" that is not an object holds no record (its objects are not sites named "sites").
  CHECK(parse_installed(R"({"sites": [{"key": "k"}]})").empty());
  CHECK(parse_installed(R"({"sites": {"a": {"key": "1"}}, "sites": []})").empty());
  CHECK(parse_installed(R"({"other": {"a": {"key": "1"}}, "sites": {}})").empty());
}

TEST_CASE("installed state: a record that is not ecertctl's own is as none") {
  InstalledState state;
  state["www.example.com"] = {"k1", "c1", "ch1"};
  const std::string text = render_installed(state);
  MemoryFileSystem fs;
  fs.add_file("/state/installed.json", text, 0600);
  REQUIRE(read_installed(fs, "/state") == state);
  fs.set_owner("/state/installed.json", 65534, 65534);
  CHECK(read_installed(fs, "/state").empty());
  fs.add_file("/state/installed.json", text, 0620);
  CHECK(read_installed(fs, "/state").empty());
  fs.remove("/state/installed.json");
  fs.add_file("/root/installed.json", text, 0600);
  fs.add_symlink("/state/installed.json", "/root/installed.json");
  CHECK(read_installed(fs, "/state").empty());
}

}  // namespace
}  // namespace ecert
