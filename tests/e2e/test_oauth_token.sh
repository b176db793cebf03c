# POST /oauth_token.do, ServiceNow's OAuth token endpoint, end to end: OAuth
# clients added with the CLI, the password, client_credentials and
# refresh_token grants, the issued token as Bearer on the Table API until it
# expires or its client is removed, and every refusal. Then ticketbridge A
# with ticket_store = servicenow and an OAuth client against ticketbridge B
# over HTTPS (both grants), including a token that expires mid-run.
. "$TB_E2E_LIB"

# --- B: the instance, over HTTPS
B_DB="$WORK/b.db"
tbb() { "$TB_BIN" --db "$B_DB" "$@"; }
bsql() { sqlite3 -batch -noheader -cmd ".timeout 10000" "file:$B_DB?mode=ro" "$@"; }
bsql_write() { sqlite3 -batch -noheader -cmd ".timeout 10000" "$B_DB" "$@"; }
tbb init --product rs >"$WORK/b-init.out" 2>&1 || { cat "$WORK/b-init.out"; not_ok "B init"; finish; }
PW=correct-horse-battery
printf '%s\n' "$PW" | tbb user add snow --roles itil --password-file - >/dev/null
printf '%s\n' "$PW" | tbb user add robot --roles itil --password-file - >/dev/null
printf '%s\n' "$PW" | tbb user add nobody --roles "" --password-file - >/dev/null
tbb sys-user add jdoe --name "John Doe" >/dev/null
tbb ci add WEB01 >/dev/null
test_cert "$WORK/" || { not_ok "test certificate made (openssl)"; finish; }
printf 'listen_address = 127.0.0.1\ntls_cert = %s\ntls_key = %s\nlog_file = %s\nworkers = 0\n' \
  "$WORK/cert.pem" "$WORK/key.pem" "$WORK/b.log" >"$WORK/b.conf"

# --- the CLI
printf 'pw-client-secret-123\n' >"$WORK/pw.secret"
printf 'cc-client-secret-456\n' >"$WORK/cc.secret"
printf 'short\n' >"$WORK/short.secret"
out=$(tbb oauth-client add pwclient --secret-file "$WORK/pw.secret" 2>&1)
expect_match "oauth-client add (password grant client)" "$out" 'OAuth client pwclient added \(tokens valid 1800 s\)'
out=$(tbb oauth-client add ccclient --secret-file "$WORK/cc.secret" --run-as robot --lifetime 2 2>&1)
expect_match "oauth-client add --run-as --lifetime" "$out" 'client_credentials as robot'
tbb oauth-client add longclient --secret-file "$WORK/cc.secret" --run-as robot >/dev/null
out=$(tbb oauth-client add pwclient --secret-file "$WORK/pw.secret" 2>&1); rc=$?
expect_eq "  a second client of the same id is refused" "$rc/$(printf '%s' "$out" | grep -c 'already exists')" "1/1"
out=$(tbb oauth-client add x1 --secret-file "$WORK/cc.secret" --run-as ghost 2>&1); rc=$?
expect_match "  --run-as an unknown user is refused" "$rc $out" '^1 .*no such user: ghost'
out=$(tbb oauth-client add x2 --secret-file "$WORK/short.secret" 2>&1); rc=$?
expect_match "  a short secret is refused" "$rc $out" '^1 .*secret'
out=$(tbb oauth-client add 'bad id;rm' --secret-file "$WORK/cc.secret" 2>&1); rc=$?
expect_match "  a hostile client id is refused" "$rc $out" '^1 .*client ids are'
out=$(tbb oauth-client add x3 --secret-file "$WORK/cc.secret" --lifetime 0 2>&1); rc=$?
expect_match "  --lifetime 0 is refused" "$rc $out" '^1 .*--lifetime'
out=$(tbb oauth-client add x4 --secret-file "$WORK/nonexistent" 2>&1); rc=$?
expect_match "  a missing secret file is refused" "$rc $out" '^1 .*cannot read'
out=$(tbb oauth-client add x5 2>&1); rc=$?
expect_eq "  --secret-file is required (usage)" "$rc" 2
expect_eq "  nothing half-written" "$(bsql "select group_concat(client_id) from (select client_id from tb_oauth_client order by client_id)")" "ccclient,longclient,pwclient"
expect_eq "  the secret is stored hashed" "$(bsql "select count(*) from tb_oauth_client where secret_hash like '\$argon2id\$%' and secret_hash not like '%secret%'")" 3
out=$(tbb oauth-client list)
expect_match "oauth-client list" "$out" 'ccclient +robot +2 '
expect_match "  a client without run-as" "$out" 'pwclient +- +1800 '
out=$(tbb oauth-client remove nosuch 2>&1); rc=$?
expect_match "  remove of an unknown client fails" "$rc $out" '^1 .*no such OAuth client'

b_start() {
  rm -f "$WORK/b.port"
  "$TB_BIN" -c "$WORK/b.conf" --db "$B_DB" serve --port 0 --port-file "$WORK/b.port" >>"$WORK/b.log" 2>&1 &
  B_PID=$!
  PIDS+=("$B_PID")
  wait_file "$WORK/b.port" || { not_ok "B started"; finish; }
  B_URL="https://127.0.0.1:$(cat "$WORK/b.port")"
}
b_start
CA=(--cacert "$WORK/ca.pem")
tok() { http POST "$B_URL/oauth_token.do" "${CA[@]}" "$@"; }

# --- the password grant
tok --data-urlencode grant_type=password --data-urlencode client_id=pwclient \
  --data-urlencode client_secret=pw-client-secret-123 --data-urlencode username=snow --data-urlencode "password=$PW"
expect_eq "password grant: 200" "$HTTP_STATUS" 200
expect_eq "  token_type Bearer" "$(json_get "$HTTP_BODY" token_type)" Bearer
expect_eq "  scope useraccount" "$(json_get "$HTTP_BODY" scope)" useraccount
expect_eq "  expires_in is the client's lifetime" "$(json_get "$HTTP_BODY" expires_in)" 1800
AT=$(json_get "$HTTP_BODY" access_token)
RT=$(json_get "$HTTP_BODY" refresh_token)
expect_match "  an access token" "$AT" '^tbk_[A-Za-z0-9]{40}$'
expect_match "  a refresh token" "$RT" '^tbk_[A-Za-z0-9]{40}$'
expect_eq "  stored as an API token of the user, hashed" \
  "$(bsql "select count(*) from tb_api_token t join tb_account a on a.id=t.account_id join tb_oauth_access x on x.token_id=t.id where a.username='snow' and t.name like 'oauth pwclient %' and t.token_hash<>'$AT'")" 1
expect_eq "  the refresh token stored hashed, for 100 days" \
  "$(bsql "select count(*) from tb_oauth_refresh where token_hash<>'$RT' and expires_at-created_at=8640000")" 1
http GET "$B_URL/api/now/table/incident?sysparm_limit=1" "${CA[@]}" -H "Authorization: Bearer $AT"
expect_eq "  the token works as Bearer on the Table API" "$HTTP_STATUS" 200
http GET "$B_URL/api/now/table/incident?sysparm_limit=1" "${CA[@]}" -H "Authorization: Bearer ${AT}x"
expect_eq "  a changed token does not" "$HTTP_STATUS" 401

# --- the refresh_token grant
tok --data-urlencode grant_type=refresh_token --data-urlencode client_id=pwclient \
  --data-urlencode client_secret=pw-client-secret-123 --data-urlencode "refresh_token=$RT"
expect_eq "refresh_token grant: 200" "$HTTP_STATUS" 200
AT2=$(json_get "$HTTP_BODY" access_token)
expect_match "  a new access token" "$AT2" '^tbk_'
[ "$AT2" != "$AT" ] && ok "  different from the first" || not_ok "  different from the first"
http GET "$B_URL/api/now/table/incident?sysparm_limit=1" "${CA[@]}" -H "Authorization: Bearer $AT2"
expect_eq "  it works as Bearer" "$HTTP_STATUS" 200
tok --data-urlencode grant_type=refresh_token --data-urlencode client_id=ccclient \
  --data-urlencode client_secret=cc-client-secret-456 --data-urlencode "refresh_token=$RT"
expect_eq "  another client's refresh token: 401" "$HTTP_STATUS/$HTTP_BODY" '401/{"error":"access_denied","error_description":"access_denied"}'
tok --data-urlencode grant_type=refresh_token --data-urlencode client_id=pwclient \
  --data-urlencode client_secret=pw-client-secret-123 --data-urlencode "refresh_token=${RT}x"
expect_eq "  an unknown refresh token: 401" "$HTTP_STATUS" 401
tok --data-urlencode grant_type=refresh_token --data-urlencode client_id=pwclient \
  --data-urlencode client_secret=pw-client-secret-123
expect_match "  no refresh_token: 400" "$HTTP_STATUS $HTTP_BODY" '^400 .*invalid_request'

# --- client_credentials: acts as the run-as user; 2 s lifetime
tok --data-urlencode grant_type=client_credentials --data-urlencode client_id=ccclient \
  --data-urlencode client_secret=cc-client-secret-456
# (used at once: the token lives 2 s, and a python start-up can take a second on a loaded machine)
CT=$(printf '%s' "$HTTP_BODY" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
CT_BODY=$HTTP_BODY CT_STATUS=$HTTP_STATUS
CT_USE=$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" -H "Authorization: Bearer $CT" "$B_URL/api/now/table/incident?sysparm_limit=1")
expect_eq "client_credentials grant: 200" "$CT_STATUS" 200
expect_eq "  works as Bearer" "$CT_USE" 200
expect_eq "  expires_in 2" "$(json_get "$CT_BODY" expires_in)" 2
expect_eq "  no refresh token (RFC 6749 4.4.3)" "$(json_get "$CT_BODY" refresh_token)" ""
expect_eq "  issued to the run-as user" "$(bsql "select a.username from tb_api_token t join tb_account a on a.id=t.account_id where t.name like 'oauth ccclient %'")" robot
bearer_refused() { [ "$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" -H "Authorization: Bearer $1" "$B_URL/api/now/table/incident?sysparm_limit=1")" = 401 ]; }
wait_until 10 bearer_refused "$CT" && ok "  refused (401) once it expired" || not_ok "  refused (401) once it expired"
tok --data-urlencode grant_type=client_credentials --data-urlencode client_id=pwclient \
  --data-urlencode client_secret=pw-client-secret-123
expect_eq "  a client without run-as: 401" "$HTTP_STATUS/$(json_get "$HTTP_BODY" error)" "401/access_denied"
tok --data-urlencode grant_type=client_credentials --data-urlencode client_id=ccclient \
  --data-urlencode client_secret=cc-client-secret-456
expect_eq "  a new token for the client" "$HTTP_STATUS" 200
expect_eq "  the expired token was purged when the new one was issued" \
  "$(bsql "select count(*) from tb_api_token t join tb_oauth_access x on x.token_id=t.id where x.expires_at <= strftime('%s','now')")" 0

# --- refusals
tok --data-urlencode grant_type=password --data-urlencode client_id=pwclient \
  --data-urlencode client_secret=wrong-secret-xxxx --data-urlencode username=snow --data-urlencode "password=$PW"
expect_eq "wrong client secret: 401 access_denied" "$HTTP_STATUS/$HTTP_BODY" '401/{"error":"access_denied","error_description":"access_denied"}'
tok --data-urlencode grant_type=password --data-urlencode client_id=ghost \
  --data-urlencode client_secret=pw-client-secret-123 --data-urlencode username=snow --data-urlencode "password=$PW"
expect_eq "unknown client: 401" "$HTTP_STATUS/$(json_get "$HTTP_BODY" error)" "401/access_denied"
tok --data-urlencode grant_type=password --data-urlencode client_id=pwclient \
  --data-urlencode client_secret=pw-client-secret-123 --data-urlencode username=snow --data-urlencode "password=wrong-password-1"
expect_eq "wrong user password: 401" "$HTTP_STATUS/$(json_get "$HTTP_BODY" error)" "401/access_denied"
tok --data-urlencode grant_type=password --data-urlencode client_id=pwclient \
  --data-urlencode client_secret=pw-client-secret-123 --data-urlencode "username=sn:ow" --data-urlencode "password=$PW"
expect_eq "hostile user name: 401" "$HTTP_STATUS" 401
tok --data-urlencode grant_type=password --data-urlencode client_id=pwclient --data-urlencode client_secret=pw-client-secret-123 --data-urlencode username=snow
expect_match "password grant without password: 400 invalid_request" "$HTTP_STATUS $HTTP_BODY" '^400 .*"invalid_request"'
tok --data-urlencode grant_type=password --data-urlencode client_secret=pw-client-secret-123 --data-urlencode username=snow --data-urlencode "password=$PW"
expect_match "no client_id: 400" "$HTTP_STATUS $HTTP_BODY" '^400 .*"invalid_request"'
tok --data-urlencode grant_type=authorization_code --data-urlencode client_id=pwclient --data-urlencode client_secret=x
expect_eq "unsupported grant_type: 400" "$HTTP_STATUS/$(json_get "$HTTP_BODY" error)" "400/unsupported_grant_type"
tok --data-urlencode client_id=pwclient --data-urlencode client_secret=x
expect_eq "no grant_type: 400" "$HTTP_STATUS/$(json_get "$HTTP_BODY" error)" "400/unsupported_grant_type"
tok --data 'grant_type=password&client_id=%zz'
expect_eq "malformed form (bad escape): 400" "$HTTP_STATUS/$(json_get "$HTTP_BODY" error)" "400/invalid_request"
tok -H 'Content-Type: application/json' --data '{"grant_type":"password"}'
expect_eq "a JSON body: 400" "$HTTP_STATUS" 400
tok --data-binary $'grant_type=password&client_id=pw\x01client&client_secret=%00'
expect_eq "control characters and NUL: 400 or 401" "$(echo "$HTTP_STATUS" | grep -cE '^(400|401)$')" 1
head -c 40000 /dev/zero | tr '\0' 'a' >"$WORK/big"
# (a server closing the connection mid-upload can reach curl as a reset: try again)
for i in 1 2 3; do tok --data-binary "@$WORK/big"; [ "$HTTP_STATUS" = 000 ] || break; done
expect_eq "an oversized body: 413" "$HTTP_STATUS" 413
tok --data-urlencode grant_type=password --data-urlencode "client_id=$(head -c 3000 /dev/zero | tr '\0' 'c')" \
  --data-urlencode client_secret=x --data-urlencode username=snow --data-urlencode "password=$PW"
expect_eq "an oversized client_id: 401" "$HTTP_STATUS" 401
http GET "$B_URL/oauth_token.do" "${CA[@]}"
expect_eq "GET: 405" "$HTTP_STATUS" 405
http PUT "$B_URL/oauth_token.do" "${CA[@]}" --data grant_type=password
expect_eq "PUT: 405" "$HTTP_STATUS" 405
# failed-login throttling, as for Basic: distinct wrong passwords for one user
for i in $(seq 1 12); do
  tok -D "$WORK/hdr" --data-urlencode grant_type=password --data-urlencode client_id=pwclient \
    --data-urlencode client_secret=pw-client-secret-123 --data-urlencode username=nobody --data-urlencode "password=wrong-pass-$i"
done
expect_eq "repeated wrong passwords are throttled (429)" "$HTTP_STATUS/$(json_get "$HTTP_BODY" error)" 429/too_many_requests
expect_match "  with Retry-After" "$(tr -d '\r' <"$WORK/hdr")" '^Retry-After: [1-9][0-9]*$'
expect_match "  refusals logged with their reason" "$(grep 'oauth token refused' "$WORK/b.log" | grep -c 'reason=bad_client')" '^[1-9]'
[ "$(grep -c -e pw-client-secret -e "$PW" "$WORK/b.log")" = 0 ] && ok "  no secret in B's log" || not_ok "  no secret in B's log"

# --- removing a client: its tokens stop working
tok --data-urlencode grant_type=client_credentials --data-urlencode client_id=longclient \
  --data-urlencode client_secret=cc-client-secret-456
LT=$(json_get "$HTTP_BODY" access_token)
http GET "$B_URL/api/now/table/incident?sysparm_limit=1" "${CA[@]}" -H "Authorization: Bearer $LT"
expect_eq "a long-lived client token works" "$HTTP_STATUS" 200
out=$(tbb oauth-client remove longclient 2>&1)
expect_match "oauth-client remove" "$out" 'removed'
wait_until 10 bearer_refused "$LT" && ok "  its token is refused (401) after the removal" || not_ok "  its token is refused after the removal"
expect_eq "  its tokens are deleted" "$(bsql "select count(*) from tb_api_token where name like 'oauth longclient %'")" 0

# --- ticketbridge A: ticket_store = servicenow with OAuth, against B
printf '%s\n' "$PW" >"$WORK/snow.pw"
printf 'cc-client-secret-456\n' >"$WORK/a-cc.secret"
tbb oauth-client add aclient --secret-file "$WORK/a-cc.secret" --run-as robot >/dev/null
a_conf() { # a_conf FILE CLIENT_ID SECRET_FILE [extra lines]
  local f=$1 id=$2 sf=$3; shift 3
  { printf 'ticket_store = servicenow\nservicenow_url = %s\nservicenow_ca_file = %s\n' "$B_URL" "$WORK/ca.pem"
    printf 'servicenow_oauth_client_id = %s\nservicenow_oauth_client_secret_file = %s\n' "$id" "$sf"
    printf 'servicenow_timeout_ms = 10000\n'
    printf '%s\n' "$@"; } >"$f"
}
a_conf "$WORK/a-pw.conf" pwclient "$WORK/pw.secret" "servicenow_user = snow" "servicenow_password_file = $WORK/snow.pw"
a_conf "$WORK/a-cc.conf" aclient "$WORK/a-cc.secret"
tb_init --product rs
oauth_tokens() { bsql "select count(*) from tb_api_token where name like 'oauth $1 %'"; }

for grant in pw cc; do
  ta() { "$TB_BIN" -c "$WORK/a-$grant.conf" --db "$DB" "$@"; }
  client=$([ $grant = pw ] && echo pwclient || echo aclient)
  who=$([ $grant = pw ] && echo snow || echo robot)
  before=$(oauth_tokens $client)
  out=$(ta ticket create --short-description "OAuth $grant ticket" --assigned-to jdoe --ci WEB01 2>&1)
  expect_match "A ($grant grant): ticket create" "$out" '^INC[0-9]{7} [0-9a-f]{32}$'
  NUM=${out%% *}
  SYS=${out##* }
  expect_eq "  the record is in B, created as $who" \
    "$(bsql "select short_description||'|'||sys_created_by from incident where sys_id='$SYS'")" "OAuth $grant ticket|$who"
  expect_eq "  A took one token at /oauth_token.do" "$(( $(oauth_tokens $client) - before ))" 1
  show=$(ta ticket show "$NUM" 2>&1)
  expect_match "  ticket show" "$show" "number: $NUM"
  ta ticket note "$NUM" "OAuth $grant note" >/dev/null 2>&1
  expect_eq "  ticket note: in B, by $who" \
    "$(bsql "select sys_created_by from sys_journal_field where element_id='$SYS' and value='OAuth $grant note'")" "$who"
  used() { [ "$(bsql "select count(*) from tb_api_token where name like 'oauth $client %' and last_used_at is not null")" -ge 1 ]; }
  wait_until 10 used && ok "  B recorded the Bearer token's use" || not_ok "  B recorded the Bearer token's use"
  logged() { grep 'oauth token issued' "$WORK/b.log" | grep -q "client=$client grant=.* user=$who "; }
  wait_until 10 logged && ok "  B's log: the token issued to $who" || not_ok "  B's log: the token issued to $who"
done

# A wrong client secret in A's configuration: a clear error
printf 'not-the-secret-000\n' >"$WORK/a-bad.secret"
a_conf "$WORK/a-bad.conf" aclient "$WORK/a-bad.secret"
out=$("$TB_BIN" -c "$WORK/a-bad.conf" --db "$DB" ticket show "$NUM" 2>&1); rc=$?
expect_match "A with a wrong client secret fails clearly" "$rc $out" '^1 .*OAuth token: HTTP 401; check servicenow_oauth_client_id'

# --- a token that expires mid-run: A's daemon imports a session (the work
# note goes to B with A's cached token); B then expires that token; the next
# session's calls get 401, A drops the token, takes a new one and goes on.
INC=$("$TB_BIN" -c "$WORK/a-cc.conf" --db "$DB" ticket create --short-description "Session ticket" | awk '{print $1}')
INC_ID=$(bsql "select sys_id from incident where number='$INC'")
TB_CONF_ARGS=(-c "$WORK/a-cc.conf")
tb_start
printf 'btsim-secret\n' >"$WORK/bt.secret"
btsim_start --product rs --seed 7 --appliance-id rs-sim --outbound-url "$TB_URL/api/x_bmgr_crm/outbound_event/session_end" \
  --retry-interval 0.2 --retry-duration 60
tb appliance set Default --hostname "$BTSIM_URL" --appliance-id rs-sim --client-id btsim-client \
  --client-secret-file "$WORK/bt.secret" >/dev/null
sleep 1.5   # the daemon reloads appliance records once a second
new_session() { curl -s -X POST "$BTSIM_URL/_btsim/sessions?count=1&$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lsids"][0])'; }
note_on() { [ "$(bsql "select count(*) from sys_journal_field where element_id='$INC_ID' and value like 'BeyondTrust session $1%'")" = 1 ]; }
L1=$(new_session "custom.snow_task_id=$INC")
wait_until 30 note_on "$L1" && ok "A's daemon wrote the first session's note in B (OAuth)" || not_ok "A's daemon wrote the first session's note in B"
a_tokens() { bsql "select token_hash from tb_api_token where name like 'oauth aclient %'"; }
tok --data-urlencode grant_type=client_credentials --data-urlencode client_id=aclient \
  --data-urlencode client_secret=cc-client-secret-456
PROBE=$(json_get "$HTTP_BODY" access_token)
a_tokens >"$WORK/tokens-before"
log_mark=$(wc -l <"$WORK/b.log")
new_token() { [ "$(a_tokens | grep -cvxFf "$WORK/tokens-before")" -ge 1 ]; }
bsql_write "update tb_api_token set expires_at = strftime('%s','now') - 1 where name like 'oauth aclient %'"
# B forgets verified tokens once it sees the change (within 0.5 s): wait for that
wait_until 10 bearer_refused "$PROBE" && ok "  B refuses the expired tokens" || not_ok "  B refuses the expired tokens"
L2=$(new_session "custom.snow_task_id=$INC")
wait_until 30 note_on "$L2" && ok "  after B expired A's token, the next session's note arrived" || not_ok "  after B expired A's token, the next session's note arrived"
refused_expired() { tail -n +"$((log_mark + 1))" "$WORK/b.log" | grep 'scheme=bearer' | grep -v "token=${PROBE:0:10} " | grep -q 'user=robot .*reason=token_expired'; }
wait_until 10 refused_expired && ok "  B refused the expired token (401)" || not_ok "  B refused the expired token (401)"
wait_until 10 new_token && ok "  A took a new token after the 401" || not_ok "  A took a new token after the 401"
expect_eq "  one note per session" "$(bsql "select count(*) from sys_journal_field where element_id='$INC_ID' and value like 'BeyondTrust session%'")" 2

finish
