-- wrk script: POST distinct EPM "JIT Application Access Ticket Created"
-- webhooks (seed 004's template, filled), Basic-authenticated as the
-- webhook user. Every one has its own RequestId, so every one is stored
-- and none is a retry of another.
-- Globals on purpose: setup() runs in the main Lua state and thread:set()
-- writes each thread's own global "tid"; a local would shadow it.
counter = 0
next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

function init(args)
  counter = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Basic " .. os.getenv("EPM_BENCH_AUTH")
  template = [[{
  "EventType": "URM_Native_Ticket_Created",
  "RequestId": "%s",
  "TenantId": "6a3f1c2e-0d4b-4e5f-9a8b-7c6d5e4f3a2b",
  "Timestamp": "2025-01-31T14:05:09.123Z",
  "TicketNumber": "EPM%06d",
  "requestInfo": {
    "applicationType": "exe", "action": "Elevate", "workstyle": "JIT Application Access",
    "reason": "Update required by IT ticket; path C:\\Temp\\setup.log attached", "user": "CORP\\jdoe",
    "hostName": "WKS-0042", "trustedOwnership": "False",
    "productDescription": "Notepad++ : a free (GNU) source code editor", "driveType": "Fixed",
    "btZoneIdentifierExists": "True", "productCode": "{A09DE2D3-48BA-4338-86E0-E1D12EABD9B5}",
    "upgradeCode": "{9408EBED-A396-42EF-A228-B37E9DAF2836}", "clsId": "", "comDisplayName": "",
    "token": "Add Full Admin", "tokenAssignmentIsShell": "False", "uacTriggered": "True",
    "downloadSourceUrl": "https://github.com/notepad-plus-plus/notepad-plus-plus/releases",
    "userLanguage": "en-US", "sha1Hash": "5D7C1A8270D1F8262E7D5599FDBA43623104672C",
    "sha256Hash": "E4C6BB4221D7F5A5DC64E53A96C7844B0A42F7B8CCE41947553D647D66A4D8CD",
    "filePathObjectId": "C:\\Users\\jdoe\\Downloads\\npp.8.6.2.Installer.x64.exe",
    "cmdArgs": "\"C:\\Users\\jdoe\\Downloads\\npp.8.6.2.Installer.x64.exe\" /S", "publisher": "Notepad++",
    "productName": "Notepad++", "productVersion": "8.6.2", "fileVersion": "8.6.2.0",
    "workstyle": "JIT Application Access", "applicationGroup": "Developer Tools",
    "message": "Notepad++ requires administrator rights", "messageId": "426f6556-87ef-49c3-9cfa-58a7a83bff14",
    "hostType": "Windows", "osName": "Windows 11 Enterprise", "osVersion": "10.0.22631",
    "ComputerGroup": "Workstations", "GroupId": "4f3480ca-782c-4bbb-aaf7-ff6744c8a54e", "requestVersion": "1",
    "hostedFilePath": "", "parentProcess": "C:\\Windows\\explorer.exe", "storeAppName": "", "serviceName": "",
    "serviceAction": "", "authRequestUri": "", "bundleInfoDescription": "", "reputationScoreDateTime": "",
    "reputationScore": "", "reputationIntegrationType": ""
  }
}]]
end

request = function()
  counter = counter + 1
  local rid = string.format("%08x-%04x-4%03x-8%03x-%012x", tid, math.floor(counter / 16777216) % 65536,
    math.floor(counter / 4096) % 4096, counter % 4096, counter)
  return wrk.format(nil, nil, nil, string.format(template, rid, counter % 1000000))
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d errors=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
