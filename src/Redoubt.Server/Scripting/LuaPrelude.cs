namespace Redoubt.Server.Scripting;

/// <summary>
/// The Lua side of the scripting environment, run once per interpreter. It receives the managed
/// primitives and builds what scripts see: the <c>redis</c> table, Redis's <c>pcall</c>, <c>math.random</c>,
/// the error handler, and read-only globals.
///
/// Read-only globals: Redis patches its Lua so that tables reachable from the globals refuse writes.
/// Stock Lua 5.1 has no such tables, so every exposed table is an empty proxy whose metatable reads
/// through to the real table and refuses writes; the globals table itself is such a proxy (over a
/// hidden table whose own miss raises "nonexistent global variable"). rawset and setmetatable refuse
/// protected tables, getmetatable answers a protected stand-in, and loadstring refuses binary chunks as
/// Redis's parser-only loader does.
///
/// The managed primitives are C functions entered through <see cref="NativeThunk"/>, so they raise
/// errors exactly where Redis's do.
/// </summary>
internal static class LuaPrelude
{
    /// <summary>Chunk name of this code; the error handler skips its frames when locating the user's line.</summary>
    public const string ChunkName = "@redoubt_api";

    public const string Code = """
local raw, libs = ...
local G = _G
local dbg = debug
local error, type, tostring, rawget, rawset, select, setmetatable, getmetatable, loadstring, setfenv, getfenv, next =
      error, type, tostring, rawget, rawset, select, setmetatable, getmetatable, loadstring, setfenv, getfenv, next
local floor = math.floor

local protected = setmetatable({}, {__mode = 'k'})

local function readonly_error()
  error('Attempt to modify a readonly table', 2)
end

-- What getmetatable answers for a protected table: itself read-only.
local public_mt = {}
setmetatable(public_mt, {__newindex = readonly_error, __metatable = public_mt})
protected[public_mt] = true

local function protect(real)
  local proxy = {}
  setmetatable(proxy, {__index = real, __newindex = readonly_error, __metatable = public_mt})
  protected[proxy] = true
  return proxy
end

-- Error tables as Redis builds them (luaPushErrorBuff): "-CODE msg" keeps its code, else ERR.
local function error_table(s)
  local code, msg
  if s:sub(1, 1) == '-' then
    local sp = s:find(' ', 1, true)
    if sp then code, msg = s:sub(2, sp - 1), s:sub(sp + 1) else code, msg = 'ERR', s:sub(2) end
  else
    code, msg = 'ERR', s
  end
  msg = msg:gsub('^[\r\n]+', ''):gsub('[\r\n]+$', '')
  return {err = code .. ' ' .. msg}
end

local function raise(msg)
  error(error_table(msg), 0)
end

-- The redis table: call, pcall, sha1hex, log, setresp, set_repl and acl_check_cmd are C functions.
local redis = {}
redis.call = raw.call
redis.pcall = raw.pcall
redis.sha1hex = raw.sha1hex
redis.error_reply = function(...)
  if select('#', ...) ~= 1 or type((...)) ~= 'string' then return error_table('wrong number or type of arguments') end
  local e = ...
  if e:sub(1, 1) ~= '-' then e = '-' .. e end
  return error_table(e)
end
redis.status_reply = function(...)
  if select('#', ...) ~= 1 or type((...)) ~= 'string' then return error_table('wrong number or type of arguments') end
  return {ok = (...)}
end
redis.log = raw.log
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.setresp = raw.setresp
redis.set_repl = raw.set_repl
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.acl_check_cmd = raw.acl_check_cmd
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = raw.version, raw.version_num

-- math.random and math.randomseed on Redis's own generator (rand48), as Redis replaces them.
local function checkint(n, v, fname)
  local x = tonumber(v)
  if x == nil then
    local got = v == nil and 'no value' or type(v)
    error("bad argument #" .. n .. " to '" .. fname .. "' (number expected, got " .. got .. ")", 3)
  end
  return x >= 0 and floor(x) or -floor(-x)
end
local math_lib = {}
for k, v in next, math do math_lib[k] = v end
math_lib.random = function(...)
  local r = raw.rand() / 2147483647
  local argc = select('#', ...)
  if argc == 0 then return r end
  if argc == 1 then
    local u = checkint(1, (...), 'random')
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 2) end
    return floor(r * u) + 1
  end
  if argc == 2 then
    local l, u = checkint(1, (...), 'random'), checkint(2, select(2, ...), 'random')
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 2) end
    return floor(r * (u - l + 1)) + l
  end
  error('wrong number of arguments', 2)
end
math_lib.randomseed = function(...)
  raw.randomseed(checkint(1, (...), 'randomseed'))
end

-- Redis's pcall: an error table carrying an "err" string is handed back as that string.
local real_pcall = pcall
local function fix_pcall(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == 'table' then
    local s = rawget(e, 'err')
    if type(s) == 'string' then return false, s end
  end
  return false, e
end
local function script_pcall(f, ...)
  return fix_pcall(real_pcall(f, ...))
end

-- The hidden globals, and the visible (empty, read-only) globals table over them.
local hidden = {}
local visible = {}
protected[visible] = true
setmetatable(hidden, {__index = function(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end})
local visible_mt = {__index = hidden, __newindex = readonly_error, __metatable = public_mt}
setmetatable(visible, visible_mt)

local builtins = {'xpcall', 'tostring', 'setmetatable', 'next', 'assert', 'tonumber', 'rawequal',
  'collectgarbage', 'getmetatable', 'rawset', 'coroutine', 'type', 'select', 'unpack', 'gcinfo', 'pairs',
  'rawget', 'loadstring', 'ipairs', '_VERSION', 'load', 'error'}
for _, name in ipairs(builtins) do hidden[name] = G[name] end
hidden._G = visible
hidden.pcall = script_pcall
hidden.rawset = function(t, k, v)
  if protected[t] then error('Attempt to modify a readonly table', 0) end
  return rawset(t, k, v)
end
hidden.setmetatable = function(t, mt)
  if protected[t] then error('Attempt to modify a readonly table', 0) end
  return setmetatable(t, mt)
end
local function no_binary(chunk)
  if type(chunk) == 'string' and chunk:byte(1) == 27 then
    return nil, 'binary chunks are not supported'
  end
end
hidden.loadstring = function(s, name)
  local refused, why = no_binary(s)
  if why then return refused, why end
  local f, e = loadstring(s, name)
  if f then setfenv(f, visible) end
  return f, e
end
hidden.load = function(fn, name)
  local parts = {}
  while true do
    local piece = fn()
    if piece == nil or piece == '' then break end
    if type(piece) ~= 'string' then return nil, 'reader function must return a string' end
    parts[#parts + 1] = piece
  end
  return hidden.loadstring(table.concat(parts), name or '=(load)')
end
hidden.redis = protect(redis)
hidden.string = protect(string)
hidden.table = protect(table)
hidden.math = protect(math_lib)
hidden.coroutine = protect(coroutine)
for name, lib in next, libs do hidden[name] = protect(lib) end

-- Function libraries: while FUNCTION LOAD runs a library's code, its globals are only the library
-- API (redis.register_function, redis.log and the version fields), as in Redis.
local function register_function(...)
  local argc = select('#', ...)
  local name, callback, flags, description
  if argc == 1 then
    local t = ...
    if type(t) ~= 'table' then
      raise('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
    end
    for k, v in next, t do
      if type(k) ~= 'string' then raise('named argument key given to redis.register_function is not a string') end
      if k == 'function_name' then
        if type(v) ~= 'string' then raise('function_name argument given to redis.register_function must be a string') end
        name = v
      elseif k == 'description' then
        if type(v) ~= 'string' then raise('description argument given to redis.register_function must be a string') end
        description = v
      elseif k == 'callback' then
        if type(v) ~= 'function' then raise('callback argument given to redis.register_function must be a function') end
        callback = v
      elseif k == 'flags' then
        if type(v) ~= 'table' then raise('flags argument to redis.register_function must be a table representing function flags') end
        flags = v
      else
        raise('unknown argument given to redis.register_function')
      end
    end
    if not name then raise('redis.register_function must get a function name argument') end
    if not callback then raise('redis.register_function must get a callback argument') end
  elseif argc == 2 then
    name, callback = ...
    if type(name) ~= 'string' then raise('first argument to redis.register_function must be a string') end
    if type(callback) ~= 'function' then raise('second argument to redis.register_function must be a function') end
  else
    raise('wrong number of arguments to redis.register_function')
  end
  local flag_list = {}
  if flags then
    for _, f in next, flags do
      if type(f) ~= 'string' then raise('unknown flag given') end
      flag_list[#flag_list + 1] = f
    end
  end
  raw.register(name, callback, table.concat(flag_list, ','), description)
end

local load_redis = {register_function = register_function, log = raw.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = raw.version, REDIS_VERSION_NUM = raw.version_num}
setmetatable(load_redis, getmetatable(hidden))
local load_hidden = {redis = protect(load_redis)}
setmetatable(load_hidden, getmetatable(hidden))
local function set_load_mode(on) visible_mt.__index = on and load_hidden or hidden end

-- The error handler: records where in the user's code the error was raised.
local function error_handler(err)
  local level = 2
  local i = dbg.getinfo(level, 'nSl')
  while i and (i.what == 'C' or i.source == '@redoubt_api') do
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  if type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end

-- Every 100000 instructions: the managed side checks the time limit and SCRIPT KILL.
local kill_error = {err = 'ERR Script killed by user with SCRIPT KILL...'}
local function kill_hook() error(kill_error, 0) end
local function count_hook()
  local killed, msg = raw.interrupt()
  if killed then
    kill_error.err = msg
    dbg.sethook(kill_hook, 'l')
    error(kill_error, 0)
  end
end
local function arm_hook() dbg.sethook(count_hook, '', 100000) end

-- Functions run with the visible globals; KEYS and ARGV are set (raw) in the hidden table by the engine.
local function bind(f) setfenv(f, visible) return f end

return error_handler, bind, arm_hook, set_load_mode, hidden
""";
}
