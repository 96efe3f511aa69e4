#include "apache/config.h"

#include <fnmatch.h>

#include <cstdlib>
#include <functional>

#include "apache/lexer.h"

namespace ecert::apache {

namespace {

// Apache's own bound is 128; anything past 32 levels is a mistake in practice.
constexpr int kMaxIncludeDepth = 32;

bool has_wildcard(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

class Loader {
 public:
  Loader(const FileSystem& fs, Config& config) : fs_(fs), config_(config) {}

  void read(const fs::path& path, const fs::path& real, int depth, int vhost) {
    auto content = fs_.read_file(path);
    if (!content.is_ok()) {
      if (stack_.empty())
        root_status = content.status();
      else
        error(include_site_, content.status().message());
      return;
    }
    config_.files.push_back(ConfigFile{path, real, *content});
    stack_.push_back(real);
    // Copy: config_.files may grow (and move) while this file is processed.
    std::string text = *content;
    process(path, real, text, depth, vhost);
    stack_.pop_back();
  }

  Diagnostics errors;
  Status root_status;  // reading the root file itself failed

 private:
  struct Open {
    std::string name;
    int line;
    bool is_vhost;
  };

  void error(const SourcePos& pos, std::string msg) { errors.push_back(Diagnostic{pos, std::move(msg)}); }
  void warn(const SourcePos& pos, std::string msg) {
    config_.warnings.push_back(Diagnostic{pos, std::move(msg), Diagnostic::Severity::kWarning});
  }

  // ${NAME} from Define, else the environment. Returns false (and leaves the
  // reference as written) when a name is defined nowhere, as Apache does.
  bool substitute(std::string& value, std::string* missing = nullptr) const {
    bool all = true;
    std::string out;
    std::size_t i = 0;
    while (i < value.size()) {
      std::size_t open = value.find("${", i);
      std::size_t close = open == std::string::npos ? open : value.find('}', open + 2);
      if (close == std::string::npos) break;
      out.append(value, i, open - i);
      std::string name = value.substr(open + 2, close - open - 2);
      if (auto it = defines_.find(name); it != defines_.end()) {
        out += it->second;
      } else if (const char* env = std::getenv(name.c_str())) {
        out += env;
      } else {
        out.append(value, open, close + 1 - open);
        if (all && missing) *missing = name;
        all = false;
      }
      i = close + 1;
    }
    out.append(value, i, std::string::npos);
    value = std::move(out);
    return all;
  }

  void process(const fs::path& path, const fs::path& real, const std::string& text, int depth, int vhost) {
    std::vector<Open> open;
    for (LogicalLine& line : tokenize(text)) {
      SourcePos pos{path.string(), line.line};
      if (!line.error.empty()) {
        error(pos, line.error + "; fix the section tag");
        continue;
      }
      using Kind = LogicalLine::Kind;
      if (line.kind == Kind::kBlank || line.kind == Kind::kComment) continue;
      for (Token& arg : line.args) substitute(arg.value);
      if (line.kind == Kind::kSectionOpen) {
        bool is_vhost = line.is("VirtualHost");
        if (is_vhost && vhost >= 0) {
          error(pos, "<VirtualHost> cannot occur inside the <VirtualHost> opened at " +
                         config_.vhosts[vhost].file + ":" + std::to_string(config_.vhosts[vhost].line) +
                         "; close that one first");
          is_vhost = false;
        }
        if (is_vhost) {
          VirtualHost vh;
          vh.file = path.string();
          vh.real_file = real.string();
          vh.line = line.line;
          for (const Token& a : line.args) vh.addresses.push_back(a.value);
          config_.vhosts.push_back(std::move(vh));
          vhost = static_cast<int>(config_.vhosts.size()) - 1;
        }
        open.push_back(Open{line.name, line.line, is_vhost});
        continue;
      }
      if (line.kind == Kind::kSectionClose) {
        if (open.empty()) {
          error(pos, "</" + line.name + "> without a matching <" + line.name + "> in this file; remove it");
          continue;
        }
        if (!iequals(open.back().name, line.name))
          error(pos, "</" + line.name + "> closes <" + open.back().name + "> opened at line " +
                         std::to_string(open.back().line) + "; add </" + open.back().name + "> before it");
        if (open.back().is_vhost) {
          config_.vhosts[vhost].end_line = line.line;
          vhost = -1;
        }
        open.pop_back();
        continue;
      }
      directive(line, pos, path, real, depth, vhost);
    }
    for (auto it = open.rbegin(); it != open.rend(); ++it)
      error(SourcePos{path.string(), it->line},
            "<" + it->name + "> is not closed before the end of the file; add </" + it->name + ">");
  }

  void directive(const LogicalLine& line, const SourcePos& pos, const fs::path& path, const fs::path& real,
                 int depth, int vhost) {
    const auto& args = line.args;
    if (line.is("ServerRoot") && !args.empty()) {
      fs::path root(args[0].value);
      config_.server_root = root.is_absolute() ? root.lexically_normal() : (config_.server_root / root).lexically_normal();
    } else if (line.is("Define") && !args.empty()) {
      defines_[args[0].value] = args.size() > 1 ? args[1].value : "";
    } else if (line.is("UnDefine") && !args.empty()) {
      defines_.erase(args[0].value);
    } else if (line.is("Include") || line.is("IncludeOptional")) {
      include(line, pos, depth, vhost, line.is("IncludeOptional"));
    } else if (vhost >= 0) {
      VirtualHost& vh = config_.vhosts[vhost];
      if (line.is("ServerName") && !args.empty()) {
        vh.server_name = normalize_server_name(args[0].value);
      } else if (line.is("ServerAlias")) {
        for (const Token& a : args) vh.aliases.push_back(a.value);
      } else {
        for (const char* name : {"SSLCertificateFile", "SSLCertificateKeyFile", "SSLCertificateChainFile"})
          if (line.is(name))
            vh.ssl.push_back(SslDirective{name, args.empty() ? "" : args[0].value, line.line, path.string(), real.string()});
      }
    }
  }

  // "https://www.example.com:443" -> "www.example.com"; "[::1]:443" -> "[::1]".
  static std::string normalize_server_name(std::string name) {
    for (std::string_view scheme : {"https://", "http://"})
      if (name.size() >= scheme.size() && iequals(std::string_view(name).substr(0, scheme.size()), scheme))
        name.erase(0, scheme.size());
    if (!name.empty() && name.front() == '[') {
      std::size_t close = name.find(']');
      if (close != std::string::npos) name.erase(close + 1);
    } else if (std::size_t colon = name.find(':');
               colon != std::string::npos && name.find(':', colon + 1) == std::string::npos) {
      name.erase(colon);
    }
    return name;
  }

  void include(const LogicalLine& line, const SourcePos& pos, int depth, int vhost, bool optional) {
    if (line.args.empty()) {
      error(pos, line.name + " needs a path; add one or remove the line");
      return;
    }
    // Tokens were substituted already; redo from the raw word to spot unresolved names.
    std::string arg = line.args[0].value;
    std::string missing;
    if (!substitute(arg, &missing)) {
      warn(pos, line.name + " " + arg + " uses ${" + missing +
                    "}, which is neither Defined nor in the environment; this include was skipped");
      return;
    }
    fs::path target(arg);
    if (target.is_relative()) target = config_.server_root / target;
    target = target.lexically_normal();
    std::vector<fs::path> files;
    if (has_wildcard(target.string())) {
      std::vector<fs::path> matches = glob(target);
      if (matches.empty()) {
        if (!optional)
          error(pos, "Include " + target.string() +
                         " matches no file; fix the pattern or use IncludeOptional if that is fine");
        return;
      }
      for (const auto& m : matches) expand_or_report(m, files, pos);
    } else {
      auto info = fs_.stat(target);
      if (!info.is_ok()) {
        if (!optional || !info.status().is_not_found())
          error(pos, line.name + " " + target.string() + ": " +
                         (info.status().is_not_found() ? std::string("no such file or directory; fix the path or use IncludeOptional")
                                                       : info.status().message()));
        return;
      }
      expand_or_report(target, files, pos);
    }
    for (const fs::path& file : files) {
      auto real = fs_.write_target(file);
      fs::path real_path = real.is_ok() ? real->lexically_normal() : file;
      for (const fs::path& reading : stack_) {
        if (reading == real_path) {
          std::string chain;
          for (const auto& s : stack_) chain += s.string() + " -> ";
          error(pos, "include loop: " + chain + real_path.string() + "; remove the Include that reads " +
                         real_path.string() + " again");
          return;
        }
      }
      if (depth + 1 > kMaxIncludeDepth) {
        error(pos, "Include nesting deeper than " + std::to_string(kMaxIncludeDepth) + " levels at " + file.string() +
                       "; look for an include loop");
        return;
      }
      SourcePos saved = include_site_;
      include_site_ = pos;
      read(file, real_path, depth + 1, vhost);
      include_site_ = saved;
    }
  }

  // A directory stands for every file beneath it, alphabetically per level,
  // as Apache reads it.
  // Returns false when directories nest deeper than kMaxIncludeDepth (a
  // directory symlink pointing back up would otherwise recurse forever).
  bool expand(const fs::path& path, std::vector<fs::path>& out, int depth = 0) const {
    auto info = fs_.stat(path);
    if (info.is_ok() && info->is_directory) {
      if (depth >= kMaxIncludeDepth) return false;
      auto names = fs_.list_dir(path);
      if (!names.is_ok()) return true;
      for (const auto& name : *names)
        if (name != "." && name != ".." && !expand(path / name, out, depth + 1)) return false;
      return true;
    }
    out.push_back(path);
    return true;
  }

  void expand_or_report(const fs::path& path, std::vector<fs::path>& out, const SourcePos& pos) {
    if (!expand(path, out))
      error(pos, "Include " + path.string() + ": directories nest deeper than " + std::to_string(kMaxIncludeDepth) +
                     " levels; look for a directory symlink that points back up");
  }

  // Wildcards may appear in any component; matches are sorted per level and
  // do not match a leading dot (APR_FNM_PERIOD), as in Apache.
  std::vector<fs::path> glob(const fs::path& pattern) const {
    std::vector<fs::path> current{pattern.root_path()};
    std::vector<std::string> parts;
    for (const auto& part : pattern.relative_path()) parts.push_back(part.string());
    for (std::size_t i = 0; i < parts.size(); ++i) {
      bool last = i + 1 == parts.size();
      std::vector<fs::path> next;
      for (const fs::path& dir : current) {
        if (!has_wildcard(parts[i])) {
          fs::path p = dir / parts[i];
          auto info = fs_.stat(p);
          if (info.is_ok() && (last || info->is_directory)) next.push_back(p);
          continue;
        }
        auto names = fs_.list_dir(dir);
        if (!names.is_ok()) continue;
        for (const auto& name : *names) {
          if (name == "." || name == ".." || fnmatch(parts[i].c_str(), name.c_str(), FNM_PERIOD) != 0) continue;
          fs::path p = dir / name;
          if (!last) {
            auto info = fs_.stat(p);
            if (!info.is_ok() || !info->is_directory) continue;
          }
          next.push_back(p);
        }
      }
      current = std::move(next);
    }
    return current;
  }

  const FileSystem& fs_;
  Config& config_;
  std::map<std::string, std::string> defines_;
  std::vector<fs::path> stack_;
  SourcePos include_site_;
};

bool wildcard_match(std::string_view pattern, std::string_view name) {
  return fnmatch(to_lower(pattern).c_str(), to_lower(name).c_str(), 0) == 0;
}

// Splits an address into its port part ("" when none).
std::string_view port_of(std::string_view address) {
  if (!address.empty() && address.front() == '[') {
    std::size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() || address[close + 1] != ':') return {};
    return address.substr(close + 2);
  }
  std::size_t colon = address.find(':');
  if (colon == std::string_view::npos || address.find(':', colon + 1) != std::string_view::npos) return {};
  return address.substr(colon + 1);
}

}  // namespace

std::optional<std::string> VirtualHost::ssl_value(std::string_view directive_name) const {
  std::optional<std::string> value;
  for (const auto& d : ssl)
    if (iequals(d.name, directive_name)) value = d.value;
  return value;
}

bool VirtualHost::listens_on(int port) const {
  for (const auto& address : addresses) {
    std::string_view p = port_of(address);
    if (p.empty() || p == "*" || p == std::to_string(port)) return true;
  }
  return false;
}

VirtualHost::NameMatch VirtualHost::match_name(std::string_view name) const {
  if (!server_name.empty() && iequals(server_name, name)) return NameMatch::kExact;
  bool wildcard = false;
  for (const auto& alias : aliases) {
    if (iequals(alias, name)) return NameMatch::kExact;
    if (has_wildcard(alias) && wildcard_match(alias, name)) wildcard = true;
  }
  return wildcard ? NameMatch::kWildcard : NameMatch::kNone;
}

bool VirtualHost::serves(std::string_view name) const { return match_name(name) != NameMatch::kNone; }

std::string VirtualHost::describe() const {
  std::string out = file + ":" + std::to_string(line) + " (";
  for (std::size_t i = 0; i < addresses.size(); ++i) out += (i ? " " : "") + addresses[i];
  out += server_name.empty() ? ", no ServerName" : ", ServerName " + server_name;
  if (!aliases.empty()) {
    out += ", ServerAlias";
    for (const auto& a : aliases) out += " " + a;
  }
  return out + ")";
}

Result<Config> load_config(const FileSystem& fs, const fs::path& root) {
  Config config;
  config.root = root;
  config.server_root = root.parent_path().empty() ? fs::path(".") : root.parent_path();
  auto real = fs.write_target(root);
  if (!real.is_ok()) return real.status();
  Loader loader(fs, config);
  loader.read(root, real->lexically_normal(), 0, -1);
  if (!loader.root_status.is_ok()) return loader.root_status;
  if (!loader.errors.empty()) {
    std::string msg;
    for (const auto& d : loader.errors) msg += (msg.empty() ? "" : "\n") + d.str();
    return Status::invalid(msg);
  }
  return config;
}

}  // namespace ecert::apache
