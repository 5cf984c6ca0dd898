/**
 * The `Examples:` section of every `jump` command's --help, keyed by the command's path as typed
 * (`jump clients list`). console/main.ts adds them to the commands; test/integration/console-ux.test.ts
 * checks that every command's --help has one. Kept here, apart from the commands, so the help text
 * of every command is in one place.
 */
export const EXAMPLES: Record<string, string[]> = {
  jump: [
    'jump login --site https://jump.example.com:8443 --user admin',
    'jump clients                          # every jump client, grouped by jump group and tag',
    'jump jump web-01 -- uptime',
  ],
  'jump login': [
    'jump login --site https://jump.example.com:8443 --user admin',
    'jump login --site https://jump.example.com:8443 --fingerprint SHA256:AB:CD:...   # no trust-on-first-use question',
    'printf %s "$PASSWORD" | jump login --site https://jump.example.com:8443 --password-stdin',
  ],
  'jump logout': ['jump logout', 'jump logout --site https://jump.example.com:8443'],
  'jump whoami': ['jump whoami', 'jump whoami --json'],
  'jump passwd': ['jump passwd                           # asks for the current and the new password (twice)', 'printf "%s\\n%s\\n" "$OLD" "$NEW" | jump passwd --password-stdin'],
  'jump clients': ['jump clients', 'jump clients show web-01', 'jump clients delete 7 --yes'],
  'jump clients list': [
    'jump clients                          # same as `jump clients list`',
    'jump clients --search laptop --field name --field comments',
    'jump clients --group "Linux Admins" --tag servers',
    'jump clients -o wide                  # every column, never cut to the terminal width',
    'jump clients --no-headers | awk \'{print $2}\'',
  ],
  'jump clients show': ['jump clients show 7', 'jump clients show web-01 --json'],
  'jump clients edit': [
    'jump clients edit 7 --name web-01 --comments "rack 4"',
    'jump clients edit 1 2 3 --tag ""   # back to the group top level',
    'jump clients edit 7 --passive      # counts against jump-clients.max-active no more',
  ],
  'jump clients release': ['jump clients release 7                # after removing the copied key from the cloned machine'],
  'jump clients delete': ['jump clients delete 7                 # asks y/N on a terminal', 'jump clients delete 7 8 --yes         # scripts: no question'],
  'jump installer': ['jump installer create --platform linux-x64 --out .', 'jump installer list'],
  'jump installer create': [
    'jump installer create --valid-for 7d --jump-group "Linux Admins" --tag servers --platform linux-x64 --out .',
    'jump installer create --platform windows-x64 --out .',
    'jump installer create --max-uses 1 --json',
  ],
  'jump installer list': ['jump installer list', 'jump installer list --json'],
  'jump installer show': ['jump installer show 3f2a9c'],
  'jump installer revoke': ['jump installer revoke 3f2a9c'],
  'jump updates': ['jump updates', 'jump updates status --json'],
  'jump updates status': ['jump updates status', 'jump updates status --json'],
  'jump updates pause': ['jump updates pause   # in-flight updates go on; no new ones start'],
  'jump updates resume': ['jump updates resume'],
  'jump updates retry': ['jump updates retry 42   # after fixing the build that failed on jump client 42'],
  'jump settings': ['jump settings', 'jump settings set jump-clients.max-total 500'],
  'jump settings list': ['jump settings', 'jump settings list --json'],
  'jump settings get': ['jump settings get jump-clients.max-active'],
  'jump settings set': ['jump settings set jump-clients.max-total 500', 'jump settings set jump-clients.max-active unlimited'],
  'jump settings unset': ['jump settings unset jump-clients.max-total   # back to its default'],
  'jump groups': ['jump groups', 'jump groups create "Linux Admins"'],
  'jump groups list': ['jump groups', 'jump groups list --json'],
  'jump groups create': ['jump groups create "Linux Admins"'],
  'jump groups delete': ['jump groups delete "Linux Admins"'],
  'jump groups add-member': ['jump groups add-member "Linux Admins" tina'],
  'jump groups remove-member': ['jump groups remove-member "Linux Admins" tina'],
  'jump jump': ['jump jump web-01                       # interactive shell', 'jump jump 7 -- uptime                  # run a command; exits with its status'],
  'jump proxy': ['ssh -o ProxyCommand="jump proxy %n" jump-7', 'jump ssh-config --write && ssh -F ~/.config/jump/ssh_config jump-7'],
  'jump ssh-config': ['jump ssh-config', 'jump ssh-config --write && ssh -F ~/.config/jump/ssh_config jump-7'],
  'jump tunnel': ['jump tunnel web-01 8080:127.0.0.1:80   # then http://127.0.0.1:8080', 'jump tunnel 7 5433:db.internal:5432 --bind 0.0.0.0'],
  'jump sessions': ['jump sessions', 'jump sessions show 12 --recording > s.cast && asciinema play s.cast'],
  'jump sessions list': ['jump sessions', 'jump sessions list --client web-01 --limit 20'],
  'jump sessions show': ['jump sessions show 12', 'jump sessions show 12 --recording > s.cast', 'jump sessions show 12 --file-log'],
};
