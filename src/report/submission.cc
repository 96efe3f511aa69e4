#include "report/submission.h"

#include "crypto/csr.h"

namespace ecert {
namespace {

std::string certificate_path(const Submission& s) {
  return s.renewal ? staged_path(s.site->certificate) : s.site->certificate.string();
}

std::vector<std::string> steps(const Submission& s) {
  const Site& site = *s.site;
  std::string name = site.name;
  if (site.unicode_name != site.name) name += " (" + site.unicode_name + ")";
  std::vector<std::string> out;
  out.push_back("Back up the private key " + s.key_path +
                " and its passphrase now: a lost key makes the issued certificate useless.");
  std::string server = "server name: " + name;
  if (is_multi_domain(site.feature)) {
    server += " (the server name used as Subject Name on the application form)";
    if (!site.additional_names.empty()) {
      std::string more;
      for (const auto& n : site.additional_names) more += (more.empty() ? "" : ", ") + n;
      server += "; the CA adds the other names (" + more + ") at issuance";
    }
  }
  out.push_back("On the Hongkong Post e-Cert (Server) submission page, enter the " + server + ".");
  out.push_back("Enter the 9-digit reference number and the 16-digit e-Cert PIN from your application.");
  out.push_back("Paste the whole CSR, including its -----BEGIN CERTIFICATE REQUEST----- and "
                "-----END CERTIFICATE REQUEST----- lines.");
  // A renewal's certificate goes beside the live one: Apache keeps serving
  // the live pair until apply installs the new one with the staged key.
  out.push_back("Download the issued certificate (e.g. cert0000812104.cer, PEM or DER) and place it at " +
                certificate_path(s) + ".");
  out.push_back("Run: ecertctl apply -f " + s.manifest_arg +
                (s.renewal ? " (it promotes the staged key and restarts Apache once)" : ""));
  return out;
}

}  // namespace

std::string submission_text(const Submission& s) {
  const Site& site = *s.site;
  std::string out = (s.renewal ? "Renewal CSR for " : "CSR for ") + site.name + " (" + feature_name(site.feature) +
                    "): " + s.csr_path + "\n";
  out += "Subject: " + crypto::format_name(crypto::ecert_subject(site.organization, site.name)) + "\n\n";
  out += s.csr_pem;
  if (!s.csr_pem.empty() && s.csr_pem.back() != '\n') out += "\n";
  out += "\nTo submit it:\n";
  int n = 1;
  for (const auto& step : steps(s)) out += "  " + std::to_string(n++) + ". " + step + "\n";
  return out;
}

nlohmann::json submission_json(const Submission& s) {
  const Site& site = *s.site;
  return {{"format_version", "1"},
          {"site", site.name},
          {"feature", feature_name(site.feature)},
          {"renewal", s.renewal},
          {"csr_path", s.csr_path},
          {"subject", crypto::format_name(crypto::ecert_subject(site.organization, site.name))},
          {"csr_pem", s.csr_pem},
          {"certificate_path", certificate_path(s)},
          {"steps", steps(s)}};
}

}  // namespace ecert
