/*
 * jump-client-service.exe: the Windows service host of the jump client (issue #16, item 4). It
 * replaces WinSW (a .NET program: wine has no .NET, so no test could start the real service).
 * Built by packaging/build.mjs with Debian's mingw-w64 (x86_64-w64-mingw32-gcc); no runtime but
 * kernel32/advapi32.
 *
 * As a service (the SCM starts it; the service's name is what the SCM passes, "JumpClient" for
 * the MSI, "JumpClient-<uid8>" for an EXE install):
 *   - runs "<dir>\jump-client.exe" run --config "<dir>\config", <dir> being this executable's own
 *     directory (nothing from the command line, the environment or a user-writable place), as a
 *     child in a Job object with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE (the agent and its sessions die
 *     with the host); JOB_OBJECT_LIMIT_BREAKAWAY_OK lets `--detach` below leave it;
 *   - the agent's stdout/stderr and this host's own lines go to
 *     %ProgramData%\JumpClient\Logs\<service name>.log (the dirs locked SYSTEM/Administrators full,
 *     Users read, owner Administrators; a dir another user made first is moved aside whole, and a
 *     planted log link is remade: secure_data_dirs, open_log_file);
 *   - SERVICE_CONTROL_STOP / SHUTDOWN: CTRL_BREAK to the agent's process group (the agent stops
 *     cleanly on SIGBREAK), TerminateJobObject after STOP_WAIT_MS; the service reports STOPPED, 0;
 *   - the agent exits with EXIT_REFUSED (3: the site refused this jump client for good, e.g.
 *     JUMP_CLIENT_DELETED, a revoked or expired installer; agent/main.ts): an Event Log error
 *     (source "JumpClient", ReportEvent) and the same line in the log file, the SCM's
 *     "failure actions on non-crash failures" flag cleared, the start type set to demand (no start
 *     at each boot either), and the service STOPPED with ERROR_SERVICE_SPECIFIC_ERROR / 3: no restart
 *     loop (a repair or reinstall makes it automatic and sets the flag again);
 *   - exit 5 (EXIT_UNINSTALLING: past max-offline the agent started its own uninstall,
 *     agent/self-uninstall.ts): STOPPED, 0, no restart (the uninstall removes the service);
 *   - exit 6 (EXIT_UPDATE_RESTART: the agent swapped in a new jump-client.exe and started its
 *     update watchdog outside this job, agent/update.ts): restarted at once, on Windows and under
 *     wine alike, without the failure delay and without counting a failure;
 *   - the agent's environment names the service: JUMP_CLIENT_SERVICE=<service name> (how the
 *     agent's update watchdog knows what to `sc stop` / `sc start` for a rollback);
 *   - any other exit (a crash, a kill; also 0: under wine a killed process ends with 0): on Windows this process ends with exit 1 without reporting
 *     STOPPED, which the SCM counts as a failure and answers with the recovery actions the
 *     installers set (restart after 10 s, 30 s, 60 s; reset after a day). Wine's services.exe has no
 *     recovery actions (docs/decisions.md), so under wine the host restarts the agent itself
 *     after the same delays (RESTART_MS), the count reset after a day of running.
 *   - while the agent runs, once config\agent.json holds a client id, it is written as ClientId
 *     (REG_SZ) under HKLM\Software\JumpClient (the MSI's service) or
 *     HKLM\Software\JumpClient\<service name> (an EXE install): the detection rule of
 *     docs/packaging.md, beside the Version the installer writes.
 *
 * Other uses (not as a service):
 *   jump-client-service.exe --detach PROGRAM [ARGS...]
 *       starts PROGRAM (a full path) outside any job (CREATE_BREAKAWAY_FROM_JOB, detached, no
 *       window) and exits 0, or 1 when it cannot: how the agent starts its own uninstall (msiexec
 *       /x, or a copy of jump-client.exe), which must outlive the service it stops.
 *   jump-client-service.exe --secure-data-dir
 *       makes %ProgramData%\JumpClient and its Logs trustworthy (secure_data_dirs: created locked,
 *       or re-locked, or moved aside whole when another user could have planted them) and prints one
 *       line per dir ("ok PATH", "moved-aside PATH -> ASIDE", "failed PATH (error N)"); exit 0, or 1
 *       when one failed. How the elevated EXE install and the MSI's configure action prepare the
 *       dir of the install lock (agent/install/windows-acl.ts secureMachineDataDir).
 *   anything else: a usage line on stderr, exit 2.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <sddl.h>
#include <aclapi.h>
#include <stdio.h>
#include <wchar.h>

#define EXIT_REFUSED 3
#define EXIT_UNINSTALLING 5 /* agent/main.ts: past max-offline it started its own uninstall */
#define EXIT_UPDATE_RESTART 6 /* agent/update.ts: a new exe is in place, restart it now */
#define STOP_WAIT_MS 10000
#define EVENT_ID_REFUSED 1
#define EVENT_ID_FAILED 2
static const DWORD RESTART_MS[] = { 10000, 30000, 60000 };
#define RESTART_RESET_MS (24u * 3600u * 1000u)
/* The install dir's DACL (packaging/build.mjs MSI_INSTALLDIR_SDDL), for the Logs dirs this makes. */
static const WCHAR LOGS_SDDL[] = L"D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)";

static WCHAR g_name[257] = L"JumpClient";
static WCHAR g_dir[MAX_PATH];
static SERVICE_STATUS_HANDLE g_status_handle;
static SERVICE_STATUS g_status;
static HANDLE g_stop_event;
static HANDLE g_log = INVALID_HANDLE_VALUE;
static CRITICAL_SECTION g_log_lock;

/* One line into the log file: "<UTC time> jump-client-service: <text>\r\n". */
static void log_line(const WCHAR *fmt, ...)
{
    WCHAR text[1024];
    char out[3072];
    SYSTEMTIME t;
    va_list ap;
    int n, m;
    DWORD done;
    if (g_log == INVALID_HANDLE_VALUE) return;
    va_start(ap, fmt);
    _vsnwprintf(text, 1023, fmt, ap);
    va_end(ap);
    text[1023] = 0;
    GetSystemTime(&t);
    n = _snprintf(out, sizeof(out), "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ jump-client-service[%ls]: ", t.wYear, t.wMonth, t.wDay, t.wHour, t.wMinute, t.wSecond,
                  t.wMilliseconds, g_name);
    if (n < 0) return;
    m = WideCharToMultiByte(CP_UTF8, 0, text, -1, out + n, (int)sizeof(out) - n - 3, NULL, NULL);
    if (m <= 0) return;
    n += m - 1;
    out[n++] = '\r';
    out[n++] = '\n';
    EnterCriticalSection(&g_log_lock);
    WriteFile(g_log, out, n, &done, NULL);
    LeaveCriticalSection(&g_log_lock);
}

/* An Event Log entry (Application log, source "JumpClient"), and the same line in the log file. */
static void report_event(WORD type, DWORD id, const WCHAR *text)
{
    HANDLE src = RegisterEventSourceW(NULL, L"JumpClient");
    const WCHAR *strings[1] = { text };
    BOOL ok = FALSE;
    if (src)
    {
        ok = ReportEventW(src, type, 0, id, NULL, 1, 0, strings, NULL);
        DeregisterEventSource(src);
    }
    log_line(L"event log (%ls, id %lu, %ls): %ls", type == EVENTLOG_ERROR_TYPE ? L"error" : L"information", id, ok ? L"written" : L"not written", text);
}

static void set_state(DWORD state, DWORD win32_exit, DWORD specific_exit, DWORD wait_hint)
{
    static DWORD checkpoint = 1;
    g_status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    g_status.dwCurrentState = state;
    g_status.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
    g_status.dwWin32ExitCode = win32_exit;
    g_status.dwServiceSpecificExitCode = specific_exit;
    g_status.dwWaitHint = wait_hint;
    g_status.dwCheckPoint = (state == SERVICE_RUNNING || state == SERVICE_STOPPED) ? 0 : checkpoint++;
    SetServiceStatus(g_status_handle, &g_status);
}

static DWORD WINAPI control_handler(DWORD control, DWORD type, void *data, void *ctx)
{
    (void)type;
    (void)data;
    (void)ctx;
    switch (control)
    {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
        set_state(SERVICE_STOP_PENDING, NO_ERROR, 0, STOP_WAIT_MS + 5000);
        SetEvent(g_stop_event);
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

/* Enables privilege `name` in this process's token (SYSTEM holds SeRestorePrivilege: it may set any owner). */
static void enable_privilege(const WCHAR *name)
{
    HANDLE tok;
    TOKEN_PRIVILEGES tp = { 1, { { { 0, 0 }, SE_PRIVILEGE_ENABLED } } };
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES, &tok)) return;
    if (LookupPrivilegeValueW(NULL, name, &tp.Privileges[0].Luid)) AdjustTokenPrivileges(tok, FALSE, &tp, 0, NULL, NULL);
    CloseHandle(tok);
}

/* True for SYSTEM, Administrators and this process's own user (an elevated installer's admin account). */
static BOOL trusted_sid(PSID sid)
{
    BYTE buf[SECURITY_MAX_SID_SIZE], tu[512];
    DWORD n = sizeof(buf), len = 0;
    HANDLE tok;
    BOOL ok = FALSE;
    if (CreateWellKnownSid(WinLocalSystemSid, NULL, buf, &n) && EqualSid(sid, buf)) return TRUE;
    n = sizeof(buf);
    if (CreateWellKnownSid(WinBuiltinAdministratorsSid, NULL, buf, &n) && EqualSid(sid, buf)) return TRUE;
    if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) {
        ok = GetTokenInformation(tok, TokenUser, tu, sizeof(tu), &len) && EqualSid(sid, ((TOKEN_USER *)tu)->User.Sid);
        CloseHandle(tok);
    }
    return ok;
}

/* Write-class rights on a directory: add file/subdirectory, write EA and attributes, delete child, DELETE, WRITE_DAC, WRITE_OWNER, GENERIC_WRITE/ALL. */
#define DIR_WRITE_BITS (FILE_ADD_FILE | FILE_ADD_SUBDIRECTORY | FILE_WRITE_EA | FILE_DELETE_CHILD | FILE_WRITE_ATTRIBUTES | DELETE | WRITE_DAC | WRITE_OWNER | GENERIC_WRITE | GENERIC_ALL)

/*
 * 1 when the directory open as `h` (opened as itself: FILE_FLAG_OPEN_REPARSE_POINT) may be trusted:
 * a real directory, not a reparse point, owned by a trusted principal (trusted_sid), with a DACL
 * that lets no one else write in it (inherit-only ACEs apply to children, not to it; deny ACEs never
 * count against; any other ACE type fails closed). Checked on the handle, so nothing can be swapped in
 * between the check and what is done with the handle.
 */
static int dir_trusted(HANDLE h)
{
    BY_HANDLE_FILE_INFORMATION info;
    PSID owner = NULL;
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    DWORD i;
    int ok;
    if (!GetFileInformationByHandle(h, &info) || (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) || !(info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) return 0;
    if (GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner, NULL, &dacl, NULL, &sd) != ERROR_SUCCESS) return 0;
    ok = owner != NULL && trusted_sid(owner) && dacl != NULL; /* a NULL DACL lets everyone do anything */
    for (i = 0; ok && i < dacl->AceCount; i++) {
        ACE_HEADER *ace;
        if (!GetAce(dacl, i, (void **)&ace)) ok = 0;
        else if (ace->AceType == ACCESS_DENIED_ACE_TYPE || (ace->AceFlags & INHERIT_ONLY_ACE)) continue;
        else if (ace->AceType != ACCESS_ALLOWED_ACE_TYPE) ok = 0;
        else if ((((ACCESS_ALLOWED_ACE *)ace)->Mask & DIR_WRITE_BITS) && !trusted_sid((PSID) & ((ACCESS_ALLOWED_ACE *)ace)->SidStart)) ok = 0;
    }
    LocalFree(sd);
    return ok;
}

/* Creates `path` with LOGS_SDDL (owner Administrators when the token may set it): one call, nothing to race. */
static BOOL create_locked(const WCHAR *path)
{
    static const WCHAR *sddls[] = { L"O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)", LOGS_SDDL };
    int i;
    for (i = 0; i < 2; i++) {
        SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, FALSE };
        PSECURITY_DESCRIPTOR sd = NULL;
        BOOL made;
        DWORD err;
        if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddls[i], SDDL_REVISION_1, &sd, NULL)) continue;
        sa.lpSecurityDescriptor = sd;
        made = CreateDirectoryW(path, &sa);
        err = GetLastError();
        LocalFree(sd);
        if (made) return TRUE;
        if (err != ERROR_INVALID_OWNER) { SetLastError(err); return FALSE; }
    }
    return FALSE;
}

/* Sets owner Administrators (when allowed) and the protected LOGS_SDDL DACL on the directory open as `h`. */
static void relock(HANDLE h)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    PACL dacl = NULL;
    BOOL present = FALSE, defaulted = FALSE;
    BYTE admins[SECURITY_MAX_SID_SIZE];
    DWORD n = sizeof(admins);
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(LOGS_SDDL, SDDL_REVISION_1, &sd, NULL)) return;
    if (GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted) && present) {
        if (!CreateWellKnownSid(WinBuiltinAdministratorsSid, NULL, admins, &n) ||
            SetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, admins, NULL, dacl, NULL) != ERROR_SUCCESS)
            SetSecurityInfo(h, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, NULL, NULL, dacl, NULL);
    }
    LocalFree(sd);
}

/* Renames what is open as `h` to `to` (a full path), by handle: the object checked is the one moved. */
static BOOL rename_by_handle(HANDLE h, const WCHAR *to)
{
    size_t chars = lstrlenW(to);
    size_t size = sizeof(FILE_RENAME_INFO) + chars * sizeof(WCHAR);
    FILE_RENAME_INFO *ri = (FILE_RENAME_INFO *)HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, size);
    BOOL ok;
    if (!ri) return FALSE;
    ri->ReplaceIfExists = FALSE;
    ri->RootDirectory = NULL;
    ri->FileNameLength = (DWORD)(chars * sizeof(WCHAR));
    memcpy(ri->FileName, to, chars * sizeof(WCHAR));
    ok = SetFileInformationByHandle(h, FileRenameInfo, ri, (DWORD)size);
    HeapFree(GetProcessHeap(), 0, ri);
    return ok;
}

/*
 * Makes `path` a directory this host can trust (issue #16, finding on item 7). %ProgramData% lets
 * every user create folders and files under it, so a user could make %ProgramData%\JumpClient first:
 * as a junction to another place (SYSTEM would write there), as a folder of their own (its owner
 * keeps WRITE_DAC), or holding planted files (an install.lock naming a running pid, a log file they
 * can read). So:
 *   - missing: created with LOGS_SDDL in one call;
 *   - present and trusted (dir_trusted, checked on a handle opened as itself): the owner and the
 *     protected DACL are set again on that handle;
 *   - present and not trusted (a file, a reparse point, another owner, another writer): moved aside
 *     whole, by handle, to `<path>.untrusted-<ticks>` (written into `aside`), with everything in it,
 *     and a fresh one created. Nothing in it is read, followed or deleted.
 * Returns TRUE when `path` is then a trusted directory; FALSE (GetLastError set) when it could not be
 * made one in 3 attempts (someone keeps re-creating it).
 */
static BOOL secure_dir(const WCHAR *path, WCHAR *aside, size_t aside_len)
{
    int attempt;
    aside[0] = 0;
    for (attempt = 0; attempt < 3; attempt++) {
        HANDLE h = CreateFileW(path, READ_CONTROL | WRITE_DAC | WRITE_OWNER | DELETE | FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                               OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
        if (h == INVALID_HANDLE_VALUE) {
            DWORD e = GetLastError();
            if (e != ERROR_FILE_NOT_FOUND && e != ERROR_PATH_NOT_FOUND) return FALSE;
            if (create_locked(path)) return TRUE;
            if (GetLastError() == ERROR_ALREADY_EXISTS) continue;
            return FALSE;
        }
        if (dir_trusted(h)) {
            relock(h);
            CloseHandle(h);
            return TRUE;
        }
        _snwprintf(aside, aside_len - 1, L"%ls.untrusted-%llu", path, (unsigned long long)GetTickCount64());
        aside[aside_len - 1] = 0;
        if (!rename_by_handle(h, aside)) {
            DWORD e = GetLastError();
            CloseHandle(h);
            SetLastError(e);
            return FALSE;
        }
        CloseHandle(h);
        if (create_locked(path)) return TRUE;
        if (GetLastError() != ERROR_ALREADY_EXISTS) return FALSE;
    }
    return FALSE;
}

/* %ProgramData%\JumpClient (or a sub-folder `sub`) into `path`. */
static void data_path(WCHAR *path, size_t len, const WCHAR *sub)
{
    WCHAR base[MAX_PATH];
    DWORD n = GetEnvironmentVariableW(L"ProgramData", base, MAX_PATH);
    if (n == 0 || n >= MAX_PATH) lstrcpyW(base, L"C:\\ProgramData");
    if (sub) _snwprintf(path, len - 1, L"%ls\\JumpClient\\%ls", base, sub);
    else _snwprintf(path, len - 1, L"%ls\\JumpClient", base);
    path[len - 1] = 0;
}

/* Both data dirs (JumpClient, then its Logs) made trustworthy; `report` prints what was done (the CLI), or NULL. */
static BOOL secure_data_dirs(FILE *report)
{
    static const WCHAR *subs[] = { NULL, L"Logs" };
    WCHAR path[MAX_PATH + 64], aside[MAX_PATH + 128];
    int i;
    enable_privilege(L"SeRestorePrivilege");
    enable_privilege(L"SeTakeOwnershipPrivilege");
    for (i = 0; i < 2; i++) {
        data_path(path, MAX_PATH + 64, subs[i]);
        if (!secure_dir(path, aside, MAX_PATH + 128)) {
            if (report) fwprintf(report, L"failed %ls (error %lu)\n", path, GetLastError());
            return FALSE;
        }
        if (report) {
            if (aside[0]) fwprintf(report, L"moved-aside %ls -> %ls\n", path, aside);
            else fwprintf(report, L"ok %ls\n", path);
        }
    }
    return TRUE;
}

/*
 * Opens the log file `path` for appending, refusing one planted before the dir was locked: a
 * reparse point (opened as itself, FILE_FLAG_OPEN_REPARSE_POINT) or a file with another hard link
 * (a link to a file elsewhere that SYSTEM would append to) is deleted and made anew.
 */
static HANDLE open_log_file(const WCHAR *path, SECURITY_ATTRIBUTES *sa)
{
    int attempt;
    for (attempt = 0; attempt < 2; attempt++) {
        BY_HANDLE_FILE_INFORMATION info;
        HANDLE h = CreateFileW(path, FILE_APPEND_DATA | FILE_READ_ATTRIBUTES | SYNCHRONIZE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, sa,
                               OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
        if (h == INVALID_HANDLE_VALUE) return h;
        if (!GetFileInformationByHandle(h, &info) ||
            (!(info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) && info.nNumberOfLinks <= 1)) return h;
        CloseHandle(h);
        DeleteFileW(path);
    }
    return INVALID_HANDLE_VALUE;
}

static void open_log(void)
{
    WCHAR path[MAX_PATH + 300], name[300];
    SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE }; /* inherited: the agent's stdout/stderr */
    secure_data_dirs(NULL);
    _snwprintf(name, 299, L"Logs\\%ls.log", g_name);
    name[299] = 0;
    data_path(path, MAX_PATH + 300, name);
    g_log = open_log_file(path, &sa);
}

/* The registry key of the detection rule: Software\JumpClient, or Software\JumpClient\<name>. */
static void detection_key(WCHAR *key, size_t len)
{
    if (lstrcmpiW(g_name, L"JumpClient") == 0) lstrcpynW(key, L"Software\\JumpClient", (int)len);
    else _snwprintf(key, len - 1, L"Software\\JumpClient\\%ls", g_name);
    key[len - 1] = 0;
}

/* The client id in config\agent.json ("client_id": N), or 0 when there is none yet. */
static unsigned long long read_client_id(void)
{
    WCHAR path[MAX_PATH + 32];
    char buf[65536], *p;
    DWORD got = 0;
    HANDLE f;
    unsigned long long id = 0;
    _snwprintf(path, MAX_PATH + 31, L"%lsconfig\\agent.json", g_dir);
    path[MAX_PATH + 31] = 0;
    f = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING, 0, NULL);
    if (f == INVALID_HANDLE_VALUE) return 0;
    ReadFile(f, buf, sizeof(buf) - 1, &got, NULL);
    CloseHandle(f);
    buf[got] = 0;
    if (!(p = strstr(buf, "\"client_id\""))) return 0;
    p += 11;
    while (*p == ' ' || *p == ':' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    while (*p >= '0' && *p <= '9') id = id * 10 + (unsigned long long)(*p++ - '0');
    return id;
}

/* Writes ClientId under the detection key once the agent has enrolled; TRUE once written. */
static BOOL record_client_id(void)
{
    WCHAR key[400], value[32];
    HKEY k;
    unsigned long long id = read_client_id();
    LONG r;
    if (id == 0) return FALSE;
    detection_key(key, 400);
    if (RegCreateKeyExW(HKEY_LOCAL_MACHINE, key, 0, NULL, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, NULL, &k, NULL) != ERROR_SUCCESS) return FALSE;
    _snwprintf(value, 31, L"%llu", id);
    value[31] = 0;
    r = RegSetValueExW(k, L"ClientId", 0, REG_SZ, (const BYTE *)value, (DWORD)(lstrlenW(value) + 1) * sizeof(WCHAR));
    RegCloseKey(k);
    if (r == ERROR_SUCCESS) log_line(L"HKLM\\%ls ClientId = %ls", key, value);
    return r == ERROR_SUCCESS;
}

/* TRUE under wine (ntdll exports wine_get_version), whose services.exe has no recovery actions. */
static BOOL under_wine(void)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    return ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

/*
 * The "Refused" value (REG_DWORD 1) under the detection key: set when the host made the service
 * demand-start after a refusal; read (and cleared) at the next start, which makes it automatic
 * again. A start type an administrator chose is never changed otherwise.
 */
static BOOL set_refused_marker(BOOL on)
{
    WCHAR key[400];
    HKEY k;
    DWORD one = 1, type = 0, value = 0, size = sizeof(value);
    BOOL was = FALSE;
    detection_key(key, 400);
    if (RegCreateKeyExW(HKEY_LOCAL_MACHINE, key, 0, NULL, 0, KEY_SET_VALUE | KEY_QUERY_VALUE | KEY_WOW64_64KEY, NULL, &k, NULL) != ERROR_SUCCESS) return FALSE;
    if (on) RegSetValueExW(k, L"Refused", 0, REG_DWORD, (const BYTE *)&one, sizeof(one));
    else
    {
        was = RegQueryValueExW(k, L"Refused", NULL, &type, (BYTE *)&value, &size) == ERROR_SUCCESS && type == REG_DWORD && value == 1;
        if (was) RegDeleteValueW(k, L"Refused");
    }
    RegCloseKey(k);
    return was;
}

/* At start: a service the host set to demand start after a refusal is made automatic again. */
static void restore_auto_start(void)
{
    SC_HANDLE scm, svc;
    if (!set_refused_marker(FALSE)) return;
    if (!(scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT))) return;
    if ((svc = OpenServiceW(scm, g_name, SERVICE_CHANGE_CONFIG)))
    {
        if (ChangeServiceConfigW(svc, SERVICE_NO_CHANGE, SERVICE_AUTO_START, SERVICE_NO_CHANGE, NULL, NULL, NULL, NULL, NULL, NULL, NULL))
            log_line(L"started again after a refusal: the service starts automatically again");
        CloseServiceHandle(svc);
    }
    CloseServiceHandle(scm);
}

/*
 * After a permanent refusal: clears "failure actions on non-crash failures" (a STOPPED with an error
 * then restarts nothing) and makes the service start on demand only (no start at the next boot, each
 * refused again); the installers' configure step (startService, agent/install/windows.ts) makes it
 * automatic again on a repair or reinstall.
 */
static void no_restart_on_refusal(void)
{
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT), svc;
    SERVICE_FAILURE_ACTIONS_FLAG flag = { FALSE };
    if (!scm) return;
    svc = OpenServiceW(scm, g_name, SERVICE_CHANGE_CONFIG);
    if (svc)
    {
        if (!ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag)) log_line(L"clearing the failure actions flag failed (error %lu)", GetLastError());
        if (ChangeServiceConfigW(svc, SERVICE_NO_CHANGE, SERVICE_DEMAND_START, SERVICE_NO_CHANGE, NULL, NULL, NULL, NULL, NULL, NULL, NULL))
        {
            set_refused_marker(TRUE);
            log_line(L"the service now starts on demand only (not at boot) until it is started again (a repair or reinstall)");
        }
        else
            log_line(L"making the service start on demand failed (error %lu)", GetLastError());
        CloseServiceHandle(svc);
    }
    CloseServiceHandle(scm);
}

/*
 * Starts the agent suspended, puts it in `job`, resumes it. Returns its process handle (and pid in
 * *pid), or NULL with the reason logged.
 */
static HANDLE start_agent(HANDLE job, DWORD *pid)
{
    WCHAR cmd[2 * MAX_PATH + 64];
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    HANDLE nul;
    SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };
    _snwprintf(cmd, 2 * MAX_PATH + 63, L"\"%lsjump-client.exe\" run --config \"%lsconfig\"", g_dir, g_dir);
    cmd[2 * MAX_PATH + 63] = 0;
    nul = CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0, NULL);
    ZeroMemory(&si, sizeof(si));
    si.cb = sizeof(si);
    si.dwFlags = STARTF_USESTDHANDLES | STARTF_USESHOWWINDOW;
    si.wShowWindow = SW_HIDE;
    si.hStdInput = nul;
    si.hStdOutput = g_log;
    si.hStdError = g_log;
    /* The agent shares this host's (hidden) console, in a process group of its own: CTRL_BREAK reaches it alone. */
    if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, CREATE_SUSPENDED | CREATE_NEW_PROCESS_GROUP | CREATE_UNICODE_ENVIRONMENT, NULL, g_dir, &si, &pi))
    {
        DWORD e = GetLastError();
        if (nul != INVALID_HANDLE_VALUE) CloseHandle(nul);
        log_line(L"could not start %ls (error %lu)", cmd, e);
        return NULL;
    }
    if (nul != INVALID_HANDLE_VALUE) CloseHandle(nul);
    if (!AssignProcessToJobObject(job, pi.hProcess)) log_line(L"could not put the agent in the job object (error %lu)", GetLastError());
    ResumeThread(pi.hThread);
    CloseHandle(pi.hThread);
    *pid = pi.dwProcessId;
    log_line(L"started the agent (pid %lu): %ls", pi.dwProcessId, cmd);
    return pi.hProcess;
}

/* Stops the agent: CTRL_BREAK, then the whole job after STOP_WAIT_MS. */
static void stop_agent(HANDLE job, HANDLE proc, DWORD pid)
{
    DWORD code = 0;
    BOOL sent = GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pid);
    if (sent && WaitForSingleObject(proc, STOP_WAIT_MS) == WAIT_OBJECT_0)
    {
        GetExitCodeProcess(proc, &code);
        log_line(L"the agent stopped (exit %lu)", code);
    }
    else
    {
        DWORD e = GetLastError();
        TerminateJobObject(job, 1);
        WaitForSingleObject(proc, 5000);
        if (sent) log_line(L"the agent was terminated (it did not stop within %lu ms of CTRL_BREAK)", (DWORD)STOP_WAIT_MS);
        else log_line(L"the agent was terminated (CTRL_BREAK could not be sent: error %lu)", e);
    }
    TerminateJobObject(job, 1); /* whatever it left behind (sessions) */
}

/*
 * The variables a Windows service inherits from the SCM (SystemRoot, windir, ComSpec, PATH, TEMP,
 * ProgramData, ...), set from the system's directories when missing: wine's services.exe starts a service with almost no
 * environment, and the agent runs programs (reg, cmd /c) by name. Each one set is logged.
 */
static void default_environment(void)
{
    WCHAR win[MAX_PATH], sys[MAX_PATH], drive[4] = L"C:", buf[3 * MAX_PATH + 64];
    struct { const WCHAR *name; const WCHAR *fmt; } vars[] = {
        { L"SystemRoot", L"%ls" },        /* win */
        { L"windir", L"%ls" },            /* win: node-machine-id runs %windir%\System32\REG.exe */
        { L"SystemDrive", L"%.2ls" },     /* win's drive */
        { L"ComSpec", L"%ls\\cmd.exe" }, /* sys */
        { L"PATH", L"%ls;%ls;%ls\\Wbem" }, /* sys;win;sys\Wbem */
        { L"PATHEXT", L".COM;.EXE;.BAT;.CMD" },
        { L"TEMP", L"%ls\\Temp" },       /* win */
        { L"TMP", L"%ls\\Temp" },        /* win */
        { L"ProgramData", L"%.2ls\\ProgramData" },
    };
    size_t i;
    if (!GetWindowsDirectoryW(win, MAX_PATH) || !GetSystemDirectoryW(sys, MAX_PATH)) return;
    lstrcpynW(drive, win, 3);
    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
    {
        const WCHAR *n = vars[i].name;
        if (GetEnvironmentVariableW(n, buf, 8)) continue;
        if (!lstrcmpW(n, L"ComSpec")) _snwprintf(buf, 3 * MAX_PATH + 63, vars[i].fmt, sys);
        else if (!lstrcmpW(n, L"PATH")) _snwprintf(buf, 3 * MAX_PATH + 63, vars[i].fmt, sys, win, sys);
        else if (!lstrcmpW(n, L"SystemDrive") || !lstrcmpW(n, L"ProgramData")) _snwprintf(buf, 3 * MAX_PATH + 63, vars[i].fmt, drive);
        else if (!lstrcmpW(n, L"PATHEXT")) lstrcpyW(buf, vars[i].fmt);
        else _snwprintf(buf, 3 * MAX_PATH + 63, vars[i].fmt, win);
        buf[3 * MAX_PATH + 63] = 0;
        SetEnvironmentVariableW(n, buf);
        log_line(L"environment: %ls=%ls (was not set)", n, buf);
    }
}

static void WINAPI service_main(DWORD argc, WCHAR **argv)
{
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
    HANDLE job, proc;
    DWORD pid = 0, code = 0, failures = 0, started;
    BOOL wine = under_wine(), have_id = FALSE;

    if (argc > 0 && argv[0] && argv[0][0]) lstrcpynW(g_name, argv[0], 256);
    g_status_handle = RegisterServiceCtrlHandlerExW(g_name, control_handler, NULL);
    if (!g_status_handle) return;
    set_state(SERVICE_START_PENDING, NO_ERROR, 0, 10000);
    open_log();
    default_environment();
    SetEnvironmentVariableW(L"JUMP_CLIENT_SERVICE", g_name);
    restore_auto_start();
    g_stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    /* A console for CTRL_BREAK (a service has none); hidden. This host ignores the events itself. */
    if (AllocConsole())
    {
        HWND w = GetConsoleWindow();
        if (w) ShowWindow(w, SW_HIDE);
    }
    SetConsoleCtrlHandler(NULL, TRUE);
    job = CreateJobObjectW(NULL, NULL);
    ZeroMemory(&limits, sizeof(limits));
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_BREAKAWAY_OK;
    if (!job || !SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, sizeof(limits)))
    {
        report_event(EVENTLOG_ERROR_TYPE, EVENT_ID_FAILED, L"Jump Client service: could not create its job object");
        set_state(SERVICE_STOPPED, ERROR_SERVICE_SPECIFIC_ERROR, 1, 0);
        return;
    }
    log_line(L"service starting (dir %ls%ls)", g_dir, wine ? L"; under wine: this host restarts a failed agent itself" : L"");

    for (;;)
    {
        HANDLE waits[2];
        DWORD w;
        if (!(proc = start_agent(job, &pid)))
        {
            report_event(EVENTLOG_ERROR_TYPE, EVENT_ID_FAILED, L"Jump Client service: could not start jump-client.exe (see the log under %ProgramData%\\JumpClient\\Logs)");
            set_state(SERVICE_STOPPED, ERROR_SERVICE_SPECIFIC_ERROR, 1, 0);
            return;
        }
        started = GetTickCount();
        if (g_status.dwCurrentState != SERVICE_RUNNING) set_state(SERVICE_RUNNING, NO_ERROR, 0, 0);
        waits[0] = proc;
        waits[1] = g_stop_event;
        for (;;)
        {
            w = WaitForMultipleObjects(2, waits, FALSE, have_id ? INFINITE : 2000);
            if (w != WAIT_TIMEOUT) break;
            have_id = record_client_id();
        }
        if (w == WAIT_OBJECT_0 + 1)
        {
            log_line(L"stop requested");
            stop_agent(job, proc, pid);
            CloseHandle(proc);
            CloseHandle(job);
            log_line(L"service stopped");
            set_state(SERVICE_STOPPED, NO_ERROR, 0, 0);
            return;
        }
        GetExitCodeProcess(proc, &code);
        CloseHandle(proc);
        if (code == EXIT_UNINSTALLING)
        {
            /* The uninstaller it started must outlive this host: should it still be in the job (a
               breakaway the system refused), the job no longer kills on close and is not terminated. */
            ZeroMemory(&limits, sizeof(limits));
            SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, sizeof(limits));
            log_line(L"the agent started its own uninstall (exit 5: offline past max-offline); service stopped");
            CloseHandle(job);
            set_state(SERVICE_STOPPED, NO_ERROR, 0, 0);
            return;
        }
        TerminateJobObject(job, 1); /* the agent's sessions go with it */
        if (!have_id) have_id = record_client_id();
        if (code == EXIT_UPDATE_RESTART)
        {
            log_line(L"the agent installed an update (exit 6); restarting it now");
            continue;
        }
        if (code == EXIT_REFUSED)
        {
            report_event(EVENTLOG_ERROR_TYPE, EVENT_ID_REFUSED,
                         L"Jump Client: the site refused this jump client for good (exit 3: deleted, or its installer revoked or expired; the code is in the agent's log). "
                         L"The service is stopped and will not restart; reinstall it to enroll it again.");
            no_restart_on_refusal();
            CloseHandle(job);
            set_state(SERVICE_STOPPED, ERROR_SERVICE_SPECIFIC_ERROR, EXIT_REFUSED, 0);
            return;
        }
        if (!wine)
        {
            /* A failure for the SCM: it runs the recovery actions (restart after 10 s, 30 s, 60 s). */
            log_line(L"the agent failed (exit %lu); the service ends with an error and the SCM's recovery actions restart it", code);
            report_event(EVENTLOG_ERROR_TYPE, EVENT_ID_FAILED, L"Jump Client: the agent failed; the service's recovery actions restart it");
            CloseHandle(job);
            ExitProcess(1);
        }
        if (GetTickCount() - started >= RESTART_RESET_MS) failures = 0;
        {
            DWORD delay = RESTART_MS[failures < 2 ? failures : 2];
            failures++;
            log_line(L"the agent failed (exit %lu); restarting it in %lu ms (failure %lu)", code, delay, failures);
            if (WaitForSingleObject(g_stop_event, delay) == WAIT_OBJECT_0)
            {
                log_line(L"service stopped");
                CloseHandle(job);
                set_state(SERVICE_STOPPED, NO_ERROR, 0, 0);
                return;
            }
        }
    }
}

/* --detach PROGRAM [ARGS...]: PROGRAM's command line is the rest of this one, as given. */
static int detach(const WCHAR *line)
{
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    WCHAR *cmd = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, (lstrlenW(line) + 1) * sizeof(WCHAR));
    DWORD flags = DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_UNICODE_ENVIRONMENT;
    if (!cmd) return 1;
    lstrcpyW(cmd, line);
    ZeroMemory(&si, sizeof(si));
    si.cb = sizeof(si);
    if (!CreateProcessW(NULL, cmd, NULL, NULL, FALSE, flags | CREATE_BREAKAWAY_FROM_JOB, NULL, NULL, &si, &pi))
    {
        /* Not in a job, or one that allows no breakaway: start it anyway. */
        if (!CreateProcessW(NULL, cmd, NULL, NULL, FALSE, flags, NULL, NULL, &si, &pi))
        {
            fwprintf(stderr, L"jump-client-service --detach: could not start %ls (error %lu)\n", cmd, GetLastError());
            return 1;
        }
    }
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    return 0;
}

/* The command line after the first argument (this program's name) and the word after it. */
static const WCHAR *after_two_args(const WCHAR *line)
{
    int i;
    for (i = 0; i < 2; i++)
    {
        while (*line == L' ' || *line == L'\t') line++;
        if (*line == L'"')
        {
            line++;
            while (*line && *line != L'"') line++;
            if (*line) line++;
        }
        else
            while (*line && *line != L' ' && *line != L'\t') line++;
    }
    while (*line == L' ' || *line == L'\t') line++;
    return line;
}

int wmain(int argc, WCHAR **argv)
{
    SERVICE_TABLE_ENTRYW table[] = { { g_name, service_main }, { NULL, NULL } };
    WCHAR *slash;
    InitializeCriticalSection(&g_log_lock);
    if (argc >= 3 && lstrcmpW(argv[1], L"--detach") == 0) return detach(after_two_args(GetCommandLineW()));
    if (argc == 2 && lstrcmpW(argv[1], L"--secure-data-dir") == 0) return secure_data_dirs(stdout) ? 0 : 1;
    if (argc > 1)
    {
        fwprintf(stderr, L"usage: jump-client-service.exe (run by the Service Control Manager) | jump-client-service.exe --detach PROGRAM [ARGS...] | jump-client-service.exe --secure-data-dir\n");
        return 2;
    }
    /* This executable's directory, with its trailing backslash: the agent lives beside it. */
    if (!GetModuleFileNameW(NULL, g_dir, MAX_PATH) || !(slash = wcsrchr(g_dir, L'\\'))) return 1;
    slash[1] = 0;
    if (!StartServiceCtrlDispatcherW(table))
    {
        fwprintf(stderr, L"jump-client-service.exe is the Jump Client's Windows service host: the Service Control Manager starts it (sc start JumpClient). Error %lu.\n", GetLastError());
        return 2;
    }
    return 0;
}
