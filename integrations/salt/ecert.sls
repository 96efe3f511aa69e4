# ecertctl as a Salt state: cmd.run with stateful: True.
#
# `ecertctl apply --format salt` prints exactly one line, a JSON object
# {"changed": <bool>, "comment": "<summary>"}. Salt's cmd state (stateful)
# parses the whole stdout as JSON: "changed" decides whether the state
# reports changes, "comment" becomes the state's comment, and a non-zero exit
# (bad manifest, a site in error) makes the state fail with the message in the
# comment. A run that changes nothing reports no changes, so the onchanges
# reload below does not run.
#
# In test mode (salt-call state.apply ecert test=True) Salt runs test_name
# instead: `ecertctl plan`, which writes nothing.
#
# Pillar (keep the passphrase in pillar, never in the manifest):
#   ecert:
#     manifest: /etc/ecertctl/ecert.yaml
#     passphrase: <secret>
{% set ecert = salt['pillar.get']('ecert', {}) %}
{% set manifest = ecert.get('manifest', '/etc/ecertctl/ecert.yaml') %}

ecert-apply:
  cmd.run:
    # --no-restart: ecertctl runs configtest; the reload below is Salt's job.
    # (Drop --no-restart and the reload state to let ecertctl restart Apache.)
    - name: ecertctl apply -f {{ manifest }} --no-restart --format salt
    - stateful:
      - test_name: ecertctl plan -f {{ manifest }} --format salt
    - env:
      - ECERT_KEY_PASSPHRASE: {{ ecert.get('passphrase', '') | json }}
    - output_loglevel: quiet
    - hide_output: False

# Runs only when ecert-apply reported changed: true. Key and CSR creation also
# count as changes; a reload then is harmless (Apache's files did not change).
apache2-reload-for-ecert:
  cmd.run:
    - name: apache2ctl configtest && apache2ctl graceful
    - onchanges:
      - cmd: ecert-apply

# Alternative when Apache is a managed service in the same highstate:
#
# apache2:
#   service.running:
#     - reload: True
#     - watch:
#       - cmd: ecert-apply
