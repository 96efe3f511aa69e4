#include "engine/apache_probe.h"

#include <string_view>

#include "util/fs.h"
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

template <class T, class Parse>
Result<T> ask_and_parse(const ApacheSpec& apache, CommandRunner& runner, const std::vector<std::string>& argv,
                        Parse parse) {
  auto output = ask(apache, runner, argv);
  if (!output) return output.status();
  auto parsed = parse(*output);
  if (!parsed) return Status::invalid(format_argv(argv) + ": " + parsed.status().message());
  return std::move(*parsed);
}

}  // namespace

std::vector<std::vector<std::string>> apache_binary_queries(const std::vector<std::string>& configtest,
                                                            const std::string& flag) {
  std::size_t start = 0;  // of the command, after an `env NAME=VALUE ...` in front of it
  if (!configtest.empty() && fs::path(configtest[0]).filename() == "env")
    for (start = 1; start < configtest.size() && configtest[start].find('=') != std::string::npos &&
                    configtest[start][0] != '-';
         ++start) {
    }
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

ApacheProbe probe_apache(const ApacheSpec& apache, CommandRunner& runner) {
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
  std::vector<std::string> failures;
  for (std::size_t i = 0; i < module_queries.size(); ++i) {
    auto modules = ask_and_parse<std::vector<std::string>>(apache, runner, module_queries[i],
                                                           apache::parse_compiled_modules);
    if (!modules) {
      failures.push_back(modules.status().message());
      continue;
    }
    probe.options.compiled_modules = std::move(*modules);
    // The version of the binary that listed the modules.
    const auto version_query = apache_binary_queries(apache.configtest, "-v").at(i);
    auto version = ask_and_parse<apache::ServerVersion>(apache, runner, version_query, apache::parse_server_version);
    if (version)
      probe.options.version = *version;
    else
      probe.warning = "cannot learn which version Apache is (" + version.status().message() +
                      "); an <IfVersion> that depends on the patch level of 2.4 is left undecided";
    return probe;
  }
  probe.warning =
      "cannot ask Apache which modules it has compiled in (" + join(failures, "; ") + "); " + defaults_instead();
  return probe;
}

}  // namespace ecert
