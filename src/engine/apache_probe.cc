#include "engine/apache_probe.h"

#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/state_dir.h"
#include "util/digest.h"
#include "util/strings.h"

namespace ecert {
namespace {

// httpd's options that take a value (AP_SERVER_BASEARGS "C:c:D:d:E:e:f:",
// plus the MPM's -k), and those of them a query keeps: they name the
// instance (its ServerRoot, config file, directives and defines), so the
// query shows in a process listing as that instance's. httpd reads none of
// them before -l or -v print and exit.
constexpr std::string_view kTakesValue = "CcDdEefk";
constexpr std::string_view kKept = "CcDdf";

// What stands in for what the binary did not say (apache::LoadOptions).
std::string defaults_instead() {
  return "sections are evaluated with the defaults instead: the modules Debian 12's apache2 has compiled in (" +
         join(apache::debian_compiled_modules(), " ") + ") and version 2.4 of unknown patch level";
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// The -d, -f, -C, -c and -D options of an httpd command line, each as two
// words ("-d", ROOT), read as httpd's getopt reads them: "-dROOT" and
// clustered flags ("-tDNAME") too, up to "--". command[0] is the program.
std::vector<std::string> kept_options(const std::vector<std::string>& command) {
  std::vector<std::string> kept;
  for (std::size_t i = 1; i < command.size(); ++i) {
    const std::string& word = command[i];
    if (word == "--") break;
    if (word.size() < 2 || word[0] != '-') continue;  // an apachectl action: replaced
    for (std::size_t j = 1; j < word.size(); ++j) {
      if (kTakesValue.find(word[j]) == std::string_view::npos) continue;  // a flag (-t, -S, -X): replaced
      const bool joined = j + 1 < word.size();
      if (!joined && i + 1 == command.size()) break;  // no value: httpd would refuse it, so would the query
      std::string value = joined ? word.substr(j + 1) : command[++i];
      if (kKept.find(word[j]) != std::string_view::npos) {
        kept.push_back(std::string{'-', word[j]});
        kept.push_back(std::move(value));
      }
      break;
    }
  }
  return kept;
}

// The Apache binaries that `program` stands for, most likely first.
std::vector<std::string> binaries_for(const std::string& program) {
  const fs::path path(program);
  const std::string name = path.filename().string();
  // Debian's control script (apache2ctl-INSTANCE for a second instance) runs
  // apache2; the upstream and Red Hat apachectl run httpd, Debian's
  // apachectl is a link to apache2ctl.
  std::vector<std::string> binaries;
  if (starts_with(name, "apache2ctl")) binaries = {"apache2", "httpd"};
  else if (starts_with(name, "apachectl")) binaries = {"httpd", "apache2"};
  else if (name == "apache2" || starts_with(name, "httpd")) return {program};
  else return {};
  if (!path.has_parent_path()) return binaries;
  // Beside the script first (a source build's bin/), then on PATH: Debian's
  // setup-instance links apache2ctl-INSTANCE from /usr/local/sbin.
  std::vector<std::string> out;
  for (const auto& b : binaries) out.push_back((path.parent_path() / b).string());
  out.insert(out.end(), binaries.begin(), binaries.end());
  return out;
}

// The first line of a command's output, cut short, for a message.
std::string first_line(std::string_view output) {
  output = output.substr(0, output.find('\n'));
  return output.size() > 160 ? std::string(output.substr(0, 160)) + "..." : std::string(output);
}

// Runs `argv` the way configtest runs; its output when it exited 0.
Result<std::string> ask(const ApacheSpec& apache, CommandRunner& runner, const std::vector<std::string>& argv) {
  CommandRequest request;
  request.argv = argv;
  request.timeout = std::chrono::seconds(apache.timeout_seconds);
  request.pass_env = apache.environment;
  auto result = runner.execute(request);
  if (!result) return result.status();
  if (result->timed_out)
    return Status::timeout(format_argv(argv) + " did not finish within " + std::to_string(apache.timeout_seconds) +
                           " s");
  if (result->exit_code != 0)
    return Status::io_error(format_argv(argv) + " exited with " + std::to_string(result->exit_code) +
                            (result->output.empty() ? "" : ": " + first_line(result->output)));
  return std::move(result->output);
}

// Where the command of `argv` starts, after an `env NAME=VALUE ...` in front
// of it; argv.size() when there is none.
std::size_t command_start(const std::vector<std::string>& argv) {
  std::size_t start = 0;
  if (!argv.empty() && fs::path(argv[0]).filename() == "env")
    for (start = 1; start < argv.size() && argv[start].find('=') != std::string::npos && argv[start][0] != '-';
         ++start) {
    }
  return start;
}

// The binary a query runs, found as the runner finds it: a path as given, a
// bare name in the directories of PATH. nullopt when it is not there.
std::optional<fs::path> locate_binary(const std::vector<std::string>& query, const FileSystem& fs) {
  const std::string& program = query.at(command_start(query));
  if (program.find('/') != std::string::npos) return fs::path(program);
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "";
  while (true) {
    const std::size_t colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    const fs::path candidate = fs::path(dir.empty() ? "." : std::string(dir)) / program;
    auto info = fs.stat(candidate);
    if (info && info->is_regular && (info->mode & 0111)) return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    dirs.remove_prefix(colon + 1);
  }
}

// The sha256 of the binary `query` runs; "" when it cannot be read.
std::string binary_digest(const std::vector<std::string>& query, const FileSystem& fs) {
  const auto path = locate_binary(query, fs);
  if (!path) return "";
  const auto bytes = fs.read_file(*path);
  return bytes ? sha256_hex(*bytes) : "";
}

// The modules a binary listed, into `probe`; invalid when the list does not
// parse (the binary counts as not answering).
Status take_modules(const std::vector<std::string>& query, const std::string& output, ApacheProbe& probe) {
  auto parsed = apache::parse_compiled_modules(output);
  if (!parsed) return Status::invalid(format_argv(query) + ": " + parsed.status().message());
  probe.options.compiled_modules = std::move(*parsed);
  return Status::ok();
}

// The version a binary printed, into `probe`; false when it did not (or not
// legibly): the default stays and probe.warning says why.
bool take_version(const std::vector<std::string>& query, const Result<std::string>& output, ApacheProbe& probe) {
  Status failed = output.status();
  if (output) {
    auto v = apache::parse_server_version(*output);
    if (v) {
      probe.options.version = *v;
      return true;
    }
    failed = Status::invalid(format_argv(query) + ": " + v.status().message());
  }
  probe.warning = "cannot learn which version Apache is (" + failed.message() +
                  "); an <IfVersion> that depends on the patch level of 2.4 is left undecided";
  return false;
}

// Takes a record's answers when they are those of this binary and query.
bool take_record(const std::optional<ProbeRecord>& record, const std::string& digest,
                 const std::vector<std::string>& query, const std::vector<std::string>& version_query,
                 ApacheProbe& probe) {
  if (!record || digest.empty() || record->binary_sha256 != digest || record->query != query) return false;
  ApacheProbe taken = probe;
  if (!take_modules(query, record->modules_output, taken) || !take_version(version_query, record->version_output, taken))
    return false;
  probe = std::move(taken);
  return true;
}

// The record under the memory's state directory, when it is ecertctl's own.
std::optional<ProbeRecord> recorded_probe(const ProbeMemory* memory) {
  if (!memory || memory->state_dir.empty()) return std::nullopt;
  auto text = read_state_file(memory->fs, apache_probe_path(memory->state_dir));
  return text ? parse_probe_record(*text) : std::nullopt;
}

}  // namespace

std::vector<std::vector<std::string>> apache_binary_queries(const std::vector<std::string>& configtest,
                                                            const std::string& flag) {
  const std::size_t start = command_start(configtest);
  if (start >= configtest.size()) return {};
  const std::vector<std::string> command(configtest.begin() + static_cast<std::ptrdiff_t>(start), configtest.end());
  const std::vector<std::string> kept = kept_options(command);
  std::vector<std::vector<std::string>> queries;
  for (const std::string& binary : binaries_for(command[0])) {
    std::vector<std::string> query(configtest.begin(), configtest.begin() + static_cast<std::ptrdiff_t>(start));
    query.push_back(binary);
    query.insert(query.end(), kept.begin(), kept.end());
    query.push_back(flag);
    queries.push_back(std::move(query));
  }
  return queries;
}

ApacheProbe probe_apache(const ApacheSpec& apache, CommandRunner& runner, const ProbeMemory* memory) {
  ApacheProbe probe;
  probe.options.defines = apache::defines_in_argv(apache.configtest);
  const auto module_queries = apache_binary_queries(apache.configtest, "-l");
  if (module_queries.empty()) {
    probe.warning = "apache.configtest (" + format_argv(apache.configtest) +
                    ") runs neither apache2, httpd, apache2ctl nor apachectl, so ecertctl cannot ask Apache which "
                    "modules it has compiled in and which version it is; " +
                    defaults_instead();
    return probe;
  }
  const auto version_queries = apache_binary_queries(apache.configtest, "-v");
  const std::optional<ProbeRecord> record = recorded_probe(memory);
  std::vector<std::string> failures;
  for (std::size_t i = 0; i < module_queries.size(); ++i) {
    const auto& query = module_queries[i];
    const std::string digest = memory ? binary_digest(query, memory->fs) : "";
    if (take_record(record, digest, query, version_queries[i], probe)) return probe;
    auto modules = ask(apache, runner, query);
    const Status taken = modules ? take_modules(query, *modules, probe) : modules.status();
    if (!taken) {
      failures.push_back(taken.message());
      continue;
    }
    // The version of the binary that listed the modules.
    const auto version = ask(apache, runner, version_queries[i]);
    if (take_version(version_queries[i], version, probe) && !digest.empty())
      probe.learned = ProbeRecord{digest, query, *modules, *version};
    return probe;
  }
  probe.warning =
      "cannot ask Apache which modules it has compiled in (" + join(failures, "; ") + "); " + defaults_instead();
  return probe;
}

fs::path apache_probe_path(const fs::path& state_dir) { return state_dir / "apache-probe.json"; }

namespace {
constexpr const char* kProbeFormat = "ecertctl-apache-probe 1";
}

std::string render_probe_record(const ProbeRecord& r) {
  nlohmann::json j = {{"format", kProbeFormat},
                      {"binary_sha256", r.binary_sha256},
                      {"query", r.query},
                      {"modules_output", r.modules_output},
                      {"version_output", r.version_output}};
  return j.dump(2) + "\n";  // throws on bytes that are not UTF-8 (remember_probe)
}

std::optional<ProbeRecord> parse_probe_record(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  try {
    if (j.at("format").get<std::string>() != kProbeFormat) return std::nullopt;
    return ProbeRecord{j.at("binary_sha256").get<std::string>(), j.at("query").get<std::vector<std::string>>(),
                       j.at("modules_output").get<std::string>(), j.at("version_output").get<std::string>()};
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

Status remember_probe(FileSystem& fs, const fs::path& state_dir, const ApacheProbe& probe) {
  if (!probe.learned || state_dir.empty()) return Status::ok();
  std::string text;
  try {
    text = render_probe_record(*probe.learned);
  } catch (const nlohmann::json::type_error&) {
    // Output that is not UTF-8 cannot be kept as it was printed: not
    // remembered, the binary is asked again next time.
    return Status::ok();
  }
  return write_state_file(fs, apache_probe_path(state_dir), text);
}

}  // namespace ecert
