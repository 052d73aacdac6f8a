-- wrk script: pipeline N requests per write (N = first script argument, default 16).
-- Usage: wrk -s scripts/pipeline.lua URL -- 16
init = function(args)
   local depth = tonumber(args[1]) or 16
   local r = {}
   for i = 1, depth do
      r[i] = wrk.format()
   end
   req = table.concat(r)
end

request = function()
   return req
end
