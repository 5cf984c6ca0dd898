/*
 * The MSI's deferred configure action (packaging/jump-client.wxs; issue #16, item 3), a DLL custom
 * action so that KEY_INFO never appears on a command line: Windows Installer hands the action its
 * CustomActionData (set by the immediate action SetConfigureData and hidden from the log by the
 * action's HideTarget flag and MsiHiddenProperties), and this runs
 *
 *     "<INSTALLDIR>jump-client.exe" msi-configure ... --key-info-stdin
 *
 * with KEY_INFO written to its stdin (a pipe only this process holds), and copies each line the
 * program prints into the MSI log (msiexec /l*v), so a failure's code and message are in the log
 * an administrator reads. Returns ERROR_INSTALL_FAILURE (msiexec rolls back, exit 1603) when the
 * program cannot start or exits non-zero.
 *
 * CustomActionData: "<KEY_INFO>|<INSTALLDIR>|<arguments>". KEY_INFO holds no "|" (letters and
 * digits) and a Windows path cannot hold one; the arguments, last, may.
 *
 * Rollback: the configure action's rollback action (CustomActionData "<INSTALLDIR>"). When the
 * configure action wrote a new config (INSTALLDIR\config\msi-new-config, written before anything
 * else, agent/install/cli.ts), removes the files it and the agent write there (agent.json with
 * KEY_INFO, agent.key, agent.log, the marker) and the config dir once empty, and logs what it
 * removed. Done here, not by jump-client.exe: the rollback of InstallFiles may have removed that.
 *
 * Built by packaging/build.mjs with Debian's mingw-w64 (x86_64-w64-mingw32-gcc) and stored in the
 * MSI's Binary table; it is never installed.
 */
#include <windows.h>
#include <msi.h>
#include <msiquery.h>

static void log_text(MSIHANDLE h, const WCHAR *text)
{
    MSIHANDLE rec = MsiCreateRecord(1);
    if (!rec) return;
    MsiRecordSetStringW(rec, 0, L"jump-client: [1]");
    MsiRecordSetStringW(rec, 1, text);
    MsiProcessMessage(h, INSTALLMESSAGE_INFO, rec);
    MsiCloseHandle(rec);
}

/* Logs `len` bytes of UTF-8 output as one line. */
static void log_utf8(MSIHANDLE h, const char *s, int len)
{
    WCHAR buf[2048];
    int n;
    while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == '\n')) len--;
    if (len <= 0) return;
    n = MultiByteToWideChar(CP_UTF8, 0, s, len, buf, 2047);
    buf[n] = 0;
    log_text(h, buf);
}

static WCHAR *get_data(MSIHANDLE h)
{
    DWORD n = 0;
    WCHAR empty[1] = {0};
    WCHAR *data;
    if (MsiGetPropertyW(h, L"CustomActionData", empty, &n) != ERROR_MORE_DATA) return NULL;
    n++;
    data = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, n * sizeof(WCHAR));
    if (!data) return NULL;
    if (MsiGetPropertyW(h, L"CustomActionData", data, &n) != ERROR_SUCCESS) return NULL;
    return data;
}

__declspec(dllexport) UINT __stdcall Configure(MSIHANDLE h)
{
    static const WCHAR exe[] = L"jump-client.exe";
    static const WCHAR tail[] = L" --key-info-stdin";
    WCHAR *data = get_data(h), *key, *dir, *args, *p, *cmd;
    HANDLE in_r, in_w, out_r, out_w;
    SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    char keybuf[512], line[4096];
    int keylen, used = 0;
    DWORD done, code = 1;
    size_t len;

    if (!data) { log_text(h, L"the configure action got no CustomActionData"); return ERROR_INSTALL_FAILURE; }
    /* Wine leaves CustomActionData in the property table, which its msiexec logs whole at the end;
       Windows refuses this call from a deferred action (harmless). */
    MsiSetPropertyW(h, L"CustomActionData", L"");
    key = data;
    if (!(p = wcschr(key, L'|'))) { log_text(h, L"the configure action's CustomActionData is malformed"); return ERROR_INSTALL_FAILURE; }
    *p = 0;
    dir = p + 1;
    if (!(p = wcschr(dir, L'|'))) { log_text(h, L"the configure action's CustomActionData is malformed"); return ERROR_INSTALL_FAILURE; }
    *p = 0;
    args = p + 1;

    len = 1 + lstrlenW(dir) + lstrlenW(exe) + 2 + lstrlenW(args) + lstrlenW(tail) + 1;
    cmd = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, len * sizeof(WCHAR));
    if (!cmd) return ERROR_INSTALL_FAILURE;
    lstrcpyW(cmd, L"\"");
    lstrcatW(cmd, dir);
    lstrcatW(cmd, exe);
    lstrcatW(cmd, L"\" ");
    lstrcatW(cmd, args);
    lstrcatW(cmd, tail);

    keylen = WideCharToMultiByte(CP_UTF8, 0, key, -1, keybuf, sizeof(keybuf) - 2, NULL, NULL);
    SecureZeroMemory(key, lstrlenW(key) * sizeof(WCHAR));
    if (keylen <= 0) { log_text(h, L"KEY_INFO is too long"); return ERROR_INSTALL_FAILURE; }
    keybuf[keylen - 1] = '\n'; /* in place of the terminating 0 */

    if (!CreatePipe(&in_r, &in_w, &sa, 0) || !CreatePipe(&out_r, &out_w, &sa, 0)) { log_text(h, L"CreatePipe failed"); return ERROR_INSTALL_FAILURE; }
    SetHandleInformation(in_w, HANDLE_FLAG_INHERIT, 0);
    SetHandleInformation(out_r, HANDLE_FLAG_INHERIT, 0);
    ZeroMemory(&si, sizeof(si));
    si.cb = sizeof(si);
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = in_r;
    si.hStdOutput = out_w;
    si.hStdError = out_w;
    if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, CREATE_NO_WINDOW, NULL, dir, &si, &pi))
    {
        WCHAR msg[128];
        wsprintfW(msg, L"could not start jump-client.exe (error %lu)", GetLastError());
        log_text(h, msg);
        SecureZeroMemory(keybuf, sizeof(keybuf));
        return ERROR_INSTALL_FAILURE;
    }
    CloseHandle(in_r);
    CloseHandle(out_w);
    WriteFile(in_w, keybuf, keylen, &done, NULL);
    SecureZeroMemory(keybuf, sizeof(keybuf));
    CloseHandle(in_w);

    /* Every line the program prints goes to the MSI log. */
    for (;;)
    {
        char *nl;
        if (!ReadFile(out_r, line + used, sizeof(line) - 1 - used, &done, NULL) || done == 0) break;
        used += done;
        while ((nl = memchr(line, '\n', used)))
        {
            int n = (int)(nl - line) + 1;
            log_utf8(h, line, n);
            memmove(line, line + n, used - n);
            used -= n;
        }
        if (used == sizeof(line) - 1) { log_utf8(h, line, used); used = 0; }
    }
    if (used > 0) log_utf8(h, line, used);
    CloseHandle(out_r);
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    if (code != 0)
    {
        WCHAR msg[96];
        wsprintfW(msg, L"msi-configure exited with %lu: the install is rolled back", code);
        log_text(h, msg);
        return ERROR_INSTALL_FAILURE;
    }
    return ERROR_SUCCESS;
}

__declspec(dllexport) UINT __stdcall Rollback(MSIHANDLE h)
{
    /* The file list of agent/install/windows.ts MSI_NEW_CONFIG_MARKER's comment. */
    static const WCHAR *files[] = { L"agent.json", L"agent.key", L"agent.log", L"msi-new-config" };
    WCHAR *dir = get_data(h), path[MAX_PATH + 64], said[512];
    size_t i;
    if (!dir || lstrlenW(dir) > MAX_PATH) { log_text(h, L"rollback: no INSTALLDIR"); return ERROR_SUCCESS; }
    lstrcpyW(path, dir);
    lstrcatW(path, L"config\\msi-new-config");
    if (GetFileAttributesW(path) == INVALID_FILE_ATTRIBUTES)
    {
        log_text(h, L"rollback: no config written by this install to remove");
        return ERROR_SUCCESS;
    }
    lstrcpyW(said, L"rollback: removed");
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
    {
        lstrcpyW(path, dir);
        lstrcatW(path, L"config\\");
        lstrcatW(path, files[i]);
        if (DeleteFileW(path))
        {
            lstrcatW(said, L" ");
            lstrcatW(said, files[i]);
        }
    }
    lstrcpyW(path, dir);
    lstrcatW(path, L"config");
    RemoveDirectoryW(path); /* only when empty */
    log_text(h, said);
    return ERROR_SUCCESS;
}
