// What Apache's own binary says about the inputs of section evaluation that
// its configuration does not: the modules compiled in (`apache2 -l`) and its
// version (`apache2 -v`), asked of the binary that apache.configtest runs.
// Both flags make httpd print and exit before it reads any configuration, so
// asking writes nothing, also from plan and status.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "apache/sections.h"
#include "manifest/model.h"
#include "util/fs.h"
#include "util/process.h"

namespace ecert {

// What one binary answered: `-l` and `-v` print only what was compiled into
// it, so the answers hold as long as its bytes and the query do. Remembered
// in the state directory (apache_probe_path) so that a converged run does not
// start Apache's binary twice (~30 ms, more than all else a no-op run of a
// hundred sites does): written by apply, under its lock, through
// write_state_file; read by plan, status and apply through read_state_file
// (a record that is not ecertctl's own is ignored and the binary asked).
struct ProbeRecord {
  std::string binary_sha256;       // of the binary's file
  std::vector<std::string> query;  // the -l query, as run
  std::string modules_output;      // what it printed, verbatim
  std::string version_output;      // what the -v query printed
  bool operator==(const ProbeRecord&) const = default;
};

struct ApacheProbe {
  // Ready for apache::load_config: the -D names of apache.configtest, and the
  // compiled-in modules and version the binary printed (where it did not:
  // the documented defaults, Debian 12's modules and a 2.4 of unknown patch
  // level).
  apache::LoadOptions options;
  // "" when the binary answered both questions; else one sentence for the
  // operator: what could not be learnt, why, and what stands in for it.
  std::string warning;
  // What the binary answered when it was asked now (not taken from the
  // record) and could be identified: for apply to remember.
  std::optional<ProbeRecord> learned;
};

// Where a probe finds its binaries and remembers their answers; the
// state directory may be empty (nothing remembered).
struct ProbeMemory {
  const FileSystem& fs;
  fs::path state_dir;
};

// The commands that would print `flag` ("-l" or "-v") from the Apache binary
// that `configtest` runs, most likely first; the caller runs them in order
// until one answers. The -d, -f, -C, -c and -D options of `configtest` are
// kept (with their values) and the action (-t, configtest, -k graceful, ...)
// is replaced by `flag`. A leading `env NAME=VALUE ...` stays in front.
// - [httpd|apache2, ...]: that binary.
// - [apache2ctl|apachectl, ...] (also apache2ctl-INSTANCE): the binary beside
//   the script, then on PATH (apache2, then httpd for apache2ctl; httpd, then
//   apache2 for apachectl); only on PATH when the script is named without a
//   directory. The script itself is not run: Debian's apache2ctl creates its
//   run and lock directories first.
// Returns an empty list when argv[0] (after env) is none of these (a wrapper
// script ecertctl cannot see through).
std::vector<std::vector<std::string>> apache_binary_queries(const std::vector<std::string>& configtest,
                                                            const std::string& flag);

// Asks the binary behind `apache.configtest` (see apache_binary_queries),
// through `runner` with apache.environment and apache.timeout, for its
// compiled-in modules and then, of the binary that answered, its version.
// Never fails: whatever cannot be learnt (no binary found, a non-zero exit, a
// timeout, output that does not parse) keeps its default and is named in
// ApacheProbe::warning.
// With `memory`, a binary whose bytes and query match the record in the
// state directory is not asked again: its recorded answers are parsed as if
// it had just printed them.
ApacheProbe probe_apache(const ApacheSpec& apache, CommandRunner& runner, const ProbeMemory* memory = nullptr);

fs::path apache_probe_path(const fs::path& state_dir);

// The record's text (throws nlohmann::json::type_error when an output is not
// UTF-8), and back (nullopt: not ecertctl's format).
std::string render_probe_record(const ProbeRecord& record);
std::optional<ProbeRecord> parse_probe_record(std::string_view text);

// Writes probe.learned, if any, as the record under `state_dir` (not when
// what the binary printed is not UTF-8: it cannot be kept verbatim).
Status remember_probe(FileSystem& fs, const fs::path& state_dir, const ApacheProbe& probe);

}  // namespace ecert
