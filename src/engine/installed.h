// What Apache was last (re)started with, per site, as ecertctl saw it: the
// digests of the key, certificate and chain files. A file replaced in place
// since then (a re-issued certificate dropped over the old one) is served
// only after a restart, so the plan asks for one.
//
// Kept in the state directory as installed.json, and read and written only
// as its records are (engine/state_dir.h): read without following a symlink,
// and only when it is a regular file owned by the user ecertctl runs as that
// group and others cannot write; otherwise it is ignored as if there were
// no record (no reload is asked for on its word) and the run warns about it.
// apply rewrites it as a new file, 0600.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "util/fs.h"

namespace ecert {

struct InstalledRecord {
  std::string key, certificate, chain;  // sha256 of each file's content
  bool operator==(const InstalledRecord&) const = default;
};
using InstalledState = std::map<std::string, InstalledRecord>;  // by site name

fs::path installed_state_path(const fs::path& state_dir);

// Besides the digests, a copy of the certificate and chain files Apache was
// last restarted with is kept, so that a failed renewal can put the previous
// pair back even when the operator placed the renewed certificate over the
// live one: <state>/installed/<site>.crt per site, and each chain once, by
// its digest: <state>/installed/chain-<sha256>.crt (a fleet shares a few).
fs::path installed_certificate_copy(const fs::path& state_dir, const std::string& site);
fs::path installed_chain_copy(const fs::path& state_dir, const std::string& digest);

// The record under `state_dir`; empty when there is none yet, it does not
// parse, or it is not ecertctl's own (the next successful run rewrites it).
InstalledState read_installed(const FileSystem& fs, const fs::path& state_dir);
// The record in `text`; empty when it does not parse.
InstalledState parse_installed(std::string_view text);

// Canonical JSON text of `state` (stable, so an unchanged state is not rewritten).
std::string render_installed(const InstalledState& state);

}  // namespace ecert
