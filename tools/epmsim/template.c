/* The four webhook templates of the EPM - ServiceNow integration guide
 * (seed 004, "Create webhooks"), copied as the guide prints them, including
 * the application template's repeated "workstyle" key: EPM fills a template
 * by text substitution, so a receiver gets exactly these bytes. The one change:
 * the literal EventType is a placeholder too, defaulting to the guide's value,
 * so a test can send an unexpected event type.
 *
 * Values are JSON-escaped by jansson. Formats of Timestamp, DecisionTime,
 * Duration and the other values are not documented (protocol A6) [I]. */
#include "epmsim.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char app_created[] =
    "{\n"
    "  \"EventType\": \"%%EventType%%\",\n"
    "  \"RequestId\": \"%%RequestId%%\",\n"
    "  \"TenantId\": \"%%TenantId%%\",\n"
    "  \"Timestamp\": \"%%Timestamp%%\",\n"
    "  \"TicketNumber\": \"%%TicketNumber%%\",\n"
    "  \"requestInfo\": {\n"
    "    \"applicationType\": \"%%ApplicationType%%\",\n"
    "    \"action\": \"%%Action%%\",\n"
    "    \"workstyle\": \"%%Workstyle%%\",\n"
    "    \"reason\": \"%%Reason%%\",\n"
    "    \"user\": \"%%User%%\",\n"
    "    \"hostName\": \"%%HostName%%\",\n"
    "    \"trustedOwnership\": \"%%trustedOwnership%%\",\n"
    "    \"productDescription\": \"%%ProductDescription%%\",\n"
    "    \"driveType\": \"%%DriveType%%\",\n"
    "    \"btZoneIdentifierExists\": \"%%BtZoneIdentifierExists%%\",\n"
    "    \"productCode\": \"%%ProductCode%%\",\n"
    "    \"upgradeCode\": \"%%UpgradeCode%%\",\n"
    "    \"clsId\": \"%%ClsId%%\",\n"
    "    \"comDisplayName\": \"%%ComDisplayName%%\",\n"
    "    \"token\": \"%%Token%%\",\n"
    "    \"tokenAssignmentIsShell\": \"%%TokenAssignmentIsShell%%\",\n"
    "    \"uacTriggered\": \"%%UacTriggered%%\",\n"
    "    \"downloadSourceUrl\": \"%%DownloadSourceUrl%%\",\n"
    "    \"userLanguage\": \"%%UserLanguage%%\",\n"
    "    \"sha1Hash\": \"%%Sha1Hash%%\",\n"
    "    \"sha256Hash\": \"%%Sha256Hash%%\",\n"
    "    \"filePathObjectId\": \"%%FilePathObjectId%%\",\n"
    "    \"cmdArgs\": \"%%CmdArgs%%\",\n"
    "    \"publisher\": \"%%Publisher%%\",\n"
    "    \"productName\": \"%%ProductName%%\",\n"
    "    \"productVersion\": \"%%ProductVersion%%\",\n"
    "    \"fileVersion\": \"%%FileVersion%%\",\n"
    "    \"workstyle\": \"%%Workstyle%%\",\n"
    "    \"applicationGroup\": \"%%ApplicationGroup%%\",\n"
    "    \"message\": \"%%Message%%\",\n"
    "    \"messageId\": \"%%MessageId%%\",\n"
    "    \"hostType\": \"%%HostType%%\",\n"
    "    \"osName\": \"%%OsName%%\",\n"
    "    \"osVersion\": \"%%OsVersion%%\",\n"
    "    \"ComputerGroup\": \"%%ComputerGroup%%\",\n"
    "    \"GroupId\": \"%%GroupId%%\",\n"
    "    \"requestVersion\": \"%%RequestVersion%%\",\n"
    "    \"hostedFilePath\": \"%%HostedFilePath%%\",\n"
    "    \"parentProcess\": \"%%ParentProcess%%\",\n"
    "    \"storeAppName\": \"%%StoreAppName%%\",\n"
    "    \"serviceName\": \"%%ServiceName%%\",\n"
    "    \"serviceAction\": \"%%ServiceAction%%\",\n"
    "    \"authRequestUri\": \"%%AuthRequestUri%%\",\n"
    "    \"bundleInfoDescription\": \"%%BundleInfoDescription%%\",\n"
    "    \"reputationScoreDateTime\": \"%%ReputationScoreDateTime%%\",\n"
    "    \"reputationScore\": \"%%ReputationScore%%\",\n"
    "    \"reputationIntegrationType\": \"%%ReputationIntegrationType%%\"\n"
    "  }\n"
    "}\n";

static const char app_update[] =
    "{\n"
    "  \"EventType\": \"%%EventType%%\",\n"
    "  \"RequestId\": \"%%RequestId%%\",\n"
    "  \"TenantId\": \"%%TenantId%%\",\n"
    "  \"TicketNumber\": \"%%TicketNumber%%\",\n"
    "  \"Timestamp\": \"%%Timestamp%%\",\n"
    "  \"requestInfo\": {\n"
    "    \"Decision\": \"%%Decision%%\",\n"
    "    \"DecisionTime\": \"%%DecisionTime%%\",\n"
    "    \"DecisionPerformedByUser\": \"%%DecisionPerformedByUser%%\",\n"
    "    \"Duration\": \"%%Duration%%\"\n"
    "  }\n"
    "}\n";

static const char admin_created[] =
    "{\n"
    "  \"EventType\": \"%%EventType%%\",\n"
    "  \"RequestId\": \"%%RequestId%%\",\n"
    "  \"TenantId\": \"%%TenantId%%\",\n"
    "  \"Timestamp\": \"%%Timestamp%%\",\n"
    "  \"ComputerId\": \"%%ComputerId%%\",\n"
    "  \"GroupId\": \"%%GroupId%%\",\n"
    "  \"TicketNumber\": \"%%TicketNumber%%\",\n"
    "  \"Reason\": \"%%Reason%%\",\n"
    "  \"UserId\": \"%%UserId%%\",\n"
    "  \"UserName\": \"%%UserName%%\",\n"
    "  \"DurationRequested\": \"%%DurationRequested%%\"\n"
    "}\n";

static const char admin_update[] =
    "{\n"
    "  \"EventType\": \"%%EventType%%\",\n"
    "  \"RequestId\": \"%%RequestId%%\",\n"
    "  \"TicketNumber\": \"%%TicketNumber%%\",\n"
    "  \"TenantId\": \"%%TenantId%%\",\n"
    "  \"StartTime\": \"%%StartTime%%\",\n"
    "  \"EndTime\": \"%%EndTime%%\",\n"
    "  \"Decision\": \"%%Decision%%\",\n"
    "  \"DecisionTime\": \"%%DecisionTime%%\",\n"
    "  \"DecisionPerformedByUser\": \"%%DecisionPerformedByUser%%\",\n"
    "  \"Duration\": \"%%Duration%%\",\n"
    "  \"DurationRequested\": \"%%DurationRequested%%\",\n"
    "  \"Timestamp\": \"%%Timestamp%%\"\n"
    "}\n";

/* [V] seed 004, "Webhook event types" (the strings themselves are unverified
 * elsewhere, protocol A6). */
static const ep_tpl templates[] = {
    {"URM_Native_Ticket_Created", EP_KIND_APP, true, app_created},
    {"URM_NATIVE_DECISION_UPDATE", EP_KIND_APP, false, app_update},
    {"JIT_ADMIN_TICKET_CREATED", EP_KIND_ADMIN, true, admin_created},
    {"JIT_ADMIN_TICKET_UPDATED", EP_KIND_ADMIN, false, admin_update},
};

const ep_tpl *tpl_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof templates / sizeof templates[0]; i++)
        if (strcmp(templates[i].name, name) == 0)
            return &templates[i];
    return NULL;
}

bool tpl_has(const ep_tpl *t, const char *placeholder)
{
    size_t n = strlen(placeholder);
    for (const char *p = strstr(t->text, "%%"); p; p = strstr(p + 2, "%%")) {
        const char *name = p + 2;
        const char *end = strstr(name, "%%");
        if (!end)
            return false;
        if ((size_t)(end - name) == n && strncmp(name, placeholder, n) == 0)
            return true;
        p = end;
    }
    return false;
}

/* ---------------- realistic defaults [I] ---------------- */
typedef struct app_profile {
    const char *product, *description, *publisher, *version, *file_version, *file, *args,
        *url, *group;
} app_profile;

static const app_profile apps[] = {
    {"Contoso VPN", "Contoso VPN Client Setup", "Contoso Ltd.", "4.2.1", "4.2.1.1007",
     "Downloads\\ContosoVPNSetup.exe", "/quiet /norestart",
     "https://downloads.contoso.com/vpn/ContosoVPNSetup.exe", "JIT Approved Installers"},
    {"Notepad++", "Notepad++ : a free (GNU) source code editor", "Notepad++",
     "8.6.2", "8.6.2.0", "Downloads\\npp.8.6.2.Installer.x64.exe", "/S",
     "https://github.com/notepad-plus-plus/notepad-plus-plus/releases", "Developer Tools"},
    {"Wireshark", "Wireshark Network Protocol Analyzer", "Wireshark Foundation", "4.2.3",
     "4.2.3.0", "AppData\\Local\\Temp\\Wireshark-4.2.3-x64.exe", "/S /desktopicon=yes",
     "https://www.wireshark.org/download.html", "Network Tools"},
    {"Régie Outil d'Administration", "Outil d'administration «Régie»", "Société Générale d'Informatique",
     "2.0", "2.0.0.15", "Desktop\\RegieAdmin.exe", "--mode=\"full\" --lang=fr",
     "", "Line of Business"},
};

static const char *const users[] = {"jdoe", "asmith", "jürgen.weiß", "o'brien.k", "mchen"};
static const char *const reasons[] = {
    "Need to install the \"Contoso VPN\" client for remote work",
    "Update required by IT ticket; path C:\\Temp\\setup.log attached",
    "Démarrage de l'outil pour la clôture mensuelle",
    "Troubleshooting a network issue with the vendor",
};
static const char *const approvers[] = {"it.approver", "sec.lead", "servicedesk.lead"};

static const char *pick(const char *const *v, size_t n)
{
    return v[randombytes_uniform((uint32_t)n)];
}

static void set(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, json_string(v));
}

static void ticket_number(char *out, size_t outsz)
{
    /* [observed] A6: letters, then zero-padded digits, e.g. EPM000123 */
    unsigned long long n = (unsigned long long)atomic_fetch_add(&E.ticket_seq, 1) + 1;
    snprintf(out, outsz, "EPM%06llu", n);
}

static void braced_guid(char *out, size_t outsz)
{
    char g[37];
    ep_guid(g);
    for (char *p = g; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    snprintf(out, outsz, "{%s}", g);
}

static void app_created_defaults(json_t *o)
{
    char buf[512], g[37];
    const app_profile *a = &apps[randombytes_uniform(sizeof apps / sizeof apps[0])];
    const char *user = pick(users, sizeof users / sizeof users[0]);
    char host[32];
    snprintf(host, sizeof host, "WKS-%04u", (unsigned)randombytes_uniform(10000));
    char path[300];
    snprintf(path, sizeof path, "C:\\Users\\%s\\%s", user, a->file);
    set(o, "ApplicationType", "exe");
    set(o, "Action", "Elevate");
    set(o, "Workstyle", "JIT Application Access");
    set(o, "Reason", pick(reasons, sizeof reasons / sizeof reasons[0]));
    snprintf(buf, sizeof buf, "CORP\\%s", user);
    set(o, "User", buf);
    set(o, "HostName", host);
    set(o, "trustedOwnership", "False");
    set(o, "ProductDescription", a->description);
    set(o, "DriveType", "Fixed");
    set(o, "BtZoneIdentifierExists", a->url[0] ? "True" : "False");
    braced_guid(buf, sizeof buf);
    set(o, "ProductCode", buf);
    braced_guid(buf, sizeof buf);
    set(o, "UpgradeCode", buf);
    set(o, "ClsId", "");
    set(o, "ComDisplayName", "");
    set(o, "Token", "Add Full Admin");
    set(o, "TokenAssignmentIsShell", "False");
    set(o, "UacTriggered", "True");
    set(o, "DownloadSourceUrl", a->url);
    set(o, "UserLanguage", "en-US");
    ep_hex(buf, 40, true);
    set(o, "Sha1Hash", buf);
    ep_hex(buf, 64, true);
    set(o, "Sha256Hash", buf);
    set(o, "FilePathObjectId", path);
    snprintf(buf, sizeof buf, "\"%s\" %s", path, a->args);
    set(o, "CmdArgs", buf);
    set(o, "Publisher", a->publisher);
    set(o, "ProductName", a->product);
    set(o, "ProductVersion", a->version);
    set(o, "FileVersion", a->file_version);
    set(o, "ApplicationGroup", a->group);
    snprintf(buf, sizeof buf, "%s requires administrator rights", a->product);
    set(o, "Message", buf);
    ep_guid(g);
    set(o, "MessageId", g);
    set(o, "HostType", "Windows");
    set(o, "OsName", "Windows 11 Enterprise");
    set(o, "OsVersion", "10.0.22631");
    set(o, "ComputerGroup", "Workstations");
    ep_guid(g);
    set(o, "GroupId", g);
    set(o, "RequestVersion", "1");
    set(o, "HostedFilePath", "");
    set(o, "ParentProcess", "C:\\Windows\\explorer.exe");
    set(o, "StoreAppName", "");
    set(o, "ServiceName", "");
    set(o, "ServiceAction", "");
    set(o, "AuthRequestUri", "");
    set(o, "BundleInfoDescription", "");
    set(o, "ReputationScoreDateTime", "");
    set(o, "ReputationScore", "");
    set(o, "ReputationIntegrationType", "");
}

static void admin_created_defaults(json_t *o)
{
    char buf[300], g[37];
    ep_guid(g);
    set(o, "ComputerId", g);
    ep_guid(g);
    set(o, "GroupId", g);
    set(o, "Reason", pick(reasons, sizeof reasons / sizeof reasons[0]));
    ep_guid(g);
    set(o, "UserId", g);
    snprintf(buf, sizeof buf, "CORP\\%s", pick(users, sizeof users / sizeof users[0]));
    set(o, "UserName", buf);
    set(o, "DurationRequested", "3600");    /* [I] seconds, as the decision's duration */
}

/* Decision fields of an update: the accepted decision when there is one. */
static void decision_defaults(json_t *o, const ep_request *req, double now, bool admin)
{
    const json_t *d = req ? req->decision : NULL;
    const char *dec = d ? json_string_value(json_object_get(d, "decision")) : NULL;
    const char *dt = d ? json_string_value(json_object_get(d, "decisionTime")) : NULL;
    const char *by = d ? json_string_value(json_object_get(d, "decisionPerformedByUser")) : NULL;
    const char *dur = d ? json_string_value(json_object_get(d, "duration")) : NULL;
    char nowdt[32];
    ep_datetime(now, nowdt, sizeof nowdt);
    set(o, "Decision", dec ? dec : "Approved");
    set(o, "DecisionTime", dt ? dt : nowdt);
    set(o, "DecisionPerformedByUser",
        by ? by : pick(approvers, sizeof approvers / sizeof approvers[0]));
    set(o, "Duration", dur ? dur : dec && strcmp(dec, "Denied") == 0 ? "" : "Once");
    if (!admin)
        return;
    set(o, "DurationRequested", req && req->duration_requested ? req->duration_requested : "3600");
    /* [I] the session's window: from the decision for Duration seconds */
    const char *fin_dec = json_string_value(json_object_get(o, "Decision"));
    const char *fin_dur = json_string_value(json_object_get(o, "Duration"));
    if (strcmp(fin_dec, "Approved") == 0) {
        set(o, "StartTime", json_string_value(json_object_get(o, "DecisionTime")));
        char end[32] = "";
        if (ep_is_duration(fin_dur) && strcmp(fin_dur, "Once") != 0)
            ep_datetime(now + strtod(fin_dur, NULL), end, sizeof end);
        set(o, "EndTime", end);
    } else {
        set(o, "StartTime", "");
        set(o, "EndTime", "");
    }
}

json_t *tpl_defaults(const ep_tpl *t, const ep_request *req)
{
    json_t *o = json_object();
    double now = ep_now();
    char ts[40], g[37], tn[32];
    ep_iso_ms(now, ts, sizeof ts);     /* [I] A6: Timestamp format undocumented */
    set(o, "EventType", t->name);
    if (req) {
        set(o, "RequestId", req->id);
        set(o, "TicketNumber", req->ticket_number);
        set(o, "TenantId", req->tenant_id);
    } else {
        ep_guid(g);
        set(o, "RequestId", g);
        ticket_number(tn, sizeof tn);
        set(o, "TicketNumber", tn);
        set(o, "TenantId", E.cfg.tenant_id);
    }
    set(o, "Timestamp", ts);
    if (t->creates && t->kind == EP_KIND_APP)
        app_created_defaults(o);
    else if (t->creates)
        admin_created_defaults(o);
    else
        decision_defaults(o, req, now, t->kind == EP_KIND_ADMIN);
    return o;
}

tb_err tpl_check_overrides(const ep_tpl *t, json_t *fields, char *why, size_t whysz)
{
    if (!fields)
        return TB_OK;
    if (!json_is_object(fields)) {
        snprintf(why, whysz, "fields must be an object of placeholder name -> string");
        return TB_ERR_INVALID;
    }
    const char *k;
    json_t *v;
    json_object_foreach(fields, k, v) {
        if (!tpl_has(t, k)) {
            snprintf(why, whysz, "template %s has no placeholder %%%%%.60s%%%%", t->name, k);
            return TB_ERR_INVALID;
        }
        if (!json_is_string(v)) {
            snprintf(why, whysz, "fields.%.60s must be a string (EPM sends every value as a "
                     "string)", k);
            return TB_ERR_INVALID;
        }
        if (json_string_length(v) > 65536) {
            snprintf(why, whysz, "fields.%.60s is longer than 65536 bytes", k);
            return TB_ERR_INVALID;
        }
    }
    return TB_OK;
}

char *tpl_render(const ep_tpl *t, json_t *values, bool ascii)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    const char *p = t->text;
    for (;;) {
        const char *s = strstr(p, "%%");
        const char *e = s ? strstr(s + 2, "%%") : NULL;
        if (!s || !e) {
            tb_buf_appends(&b, p);
            break;
        }
        tb_buf_append(&b, p, (size_t)(s - p));
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(e - s - 2), s + 2);
        json_t *v = json_object_get(values, name);
        json_t *sv = json_is_string(v) ? json_incref(v) : json_string("");
        char *enc = json_dumps(sv, JSON_ENCODE_ANY | (ascii ? JSON_ENSURE_ASCII : 0));
        json_decref(sv);
        if (enc) {  /* drop the quotes: the template has its own */
            size_t n = strlen(enc);
            if (n >= 2)
                tb_buf_append(&b, enc + 1, n - 2);
            free(enc);
        }
        p = e + 2;
    }
    return tb_buf_take(&b);
}
